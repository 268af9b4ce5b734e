namespace StreamAnalyzer.Pipeline.Explainers.Methods;

/// <summary>
/// The one place methods are registered: parsing (<c>--method</c>, <c>--cam-method</c>, the web controls) and the
/// lists in <c>--help</c> and error messages all come from here.
/// </summary>
public static class CamMethods
{
    /// <summary>A registered method.</summary>
    /// <param name="Name">Its name on the command line.</param>
    /// <param name="Summary">One line for <c>--help</c>.</param>
    /// <param name="Create">Makes it.</param>
    /// <param name="Aliases">Other names accepted.</param>
    public sealed record Entry(string Name, string Summary, Func<CamMethod> Create, params string[] Aliases);

    /// <summary>Every method, gradient methods first.</summary>
    public static IReadOnlyList<Entry> All { get; } =
    [
        new("gradcam", "channel weights = mean gradient (class-wide)", () => new GradCam()),
        new("gradcampp", "GradCAM++ (class-wide)", () => new GradCamPlusPlus(), "gradcam++"),
        new("xgradcam", "gradients weighted by normalised activations (class-wide)", () => new XGradCam()),
        new("hirescam", "gradient x activation per location", () => new HiResCam()),
        new("layercam", "positive gradient x activation per location", () => new LayerCam()),
        new("eigencam", "first principal component of the activations (no gradients)", () => new EigenCam()),
        new("odam", "gradient x activation per location, per instance (best with --layers neck)", () => new Odam()),
        new("scorecam", "channel weights from re-running the model on activation-masked inputs (perturbation)", () => new ScoreCam()),
        new("drise", "D-RISE: random masks scored by detection similarity; any model, no gradients (perturbation)", () => new DRise(), "d-rise"),
        new("lime", "LIME: superpixels switched off at random, weighted linear fit (perturbation)", () => new Lime()),
    ];

    /// <summary>The names, comma-separated, for messages.</summary>
    public static string Names => string.Join(", ", All.Select(e => e.Name));

    /// <summary>Names and summaries, for <c>--help</c>.</summary>
    public static string Help => string.Join("; ", All.Select(e => $"{e.Name}: {e.Summary}"));

    /// <summary>The method named <paramref name="name"/> (case-insensitive).</summary>
    /// <exception cref="Runtime.UserInputException">No method has that name.</exception>
    public static CamMethod Create(string name)
    {
        string key = name.Trim().ToLowerInvariant();
        var entry = All.FirstOrDefault(e => e.Name == key || e.Aliases.Contains(key))
            ?? throw new Runtime.UserInputException($"not a CAM method; choose one of {Names}");
        return entry.Create();
    }
}
