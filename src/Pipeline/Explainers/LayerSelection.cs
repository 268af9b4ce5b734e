using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>
/// Which layers to explain at:
/// <list type="bullet">
/// <item><c>auto</c>: each detection at the layer feeding the head at its own level, so no map is blank;</item>
/// <item><c>neck</c>: the head inputs and the layers feeding them, each map normalised, then fused into one
/// (multi-scale, as Ultralytics' LayerCAM over the neck outputs);</item>
/// <item>explicit indices, also written <c>74_act</c> or <c>74.act</c> (a Conv/RepConv's activation output is the layer's output).</item>
/// </list>
/// </summary>
public sealed class LayerSelection
{
    private readonly string _mode;

    private LayerSelection(string mode, IReadOnlyList<int>? layers)
    {
        _mode = mode;
        Layers = layers;
    }

    /// <summary>Explicit layers, or null for <c>auto</c> and <c>neck</c>.</summary>
    public IReadOnlyList<int>? Layers { get; }

    /// <summary>True for <c>auto</c>.</summary>
    public bool IsAuto => _mode == "auto";

    /// <summary>True when the maps of several layers are fused into one per detection (<c>neck</c>).</summary>
    public bool Fuses => _mode == "neck";

    /// <summary>The automatic per-level choice.</summary>
    public static LayerSelection Auto { get; } = new("auto", null);

    /// <summary>The fused neck layers.</summary>
    public static LayerSelection Neck { get; } = new("neck", null);

    /// <summary>Name used in file names: the layer list, <c>auto</c> or <c>neck</c>.</summary>
    public override string ToString() => Layers is null ? _mode : string.Join(",", Layers);

    /// <summary>Parses <c>auto</c>, <c>neck</c> or a comma-separated list, validated against <paramref name="model"/>.</summary>
    public static LayerSelection Parse(string text, YoloModel model)
    {
        string t = text?.Trim().ToLowerInvariant() ?? "";
        if (t is "" or "auto") return Auto;
        if (t == "neck") return Neck;
        var layers = new List<int>();
        foreach (var part in t.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var head = part.Split('_', '.')[0];
            string rest = part[head.Length..].TrimStart('_', '.');
            if (!int.TryParse(head, out int index) || index < 0 || index >= model.Layers.Count - 1)
                throw new UserInputException($"--layers '{part}': not a layer index between 0 and {model.Layers.Count - 2}, auto or neck (see `stream-analyzer info`)");
            if (rest.Length > 0 && rest != "act")
                throw new UserInputException($"--layers '{part}': only a layer's output ('{index}' or '{index}_act') can be explained");
            if (model.Layers[index].Stride == 0)
                throw new UserInputException($"--layers '{part}': layer {index} has no spatial output");
            layers.Add(index);
        }
        return new LayerSelection("list", layers.Distinct().ToArray());
    }

    /// <summary>Every layer a forward pass must keep (and take gradients from) for any detection.</summary>
    public IReadOnlyList<int> AllLayers(YoloModel model) => _mode switch
    {
        "auto" => model.HeadInputs.ToArray(),
        "neck" => NeckLayers(model),
        _ => Layers!,
    };

    /// <summary>The layers to explain a detection of <paramref name="level"/> at.</summary>
    public IReadOnlyList<int> For(YoloModel model, int level) => _mode switch
    {
        "auto" => [model.HeadInputs[level]],
        "neck" => NeckLayers(model).Where(l => model.LevelsFedBy(l).Contains(level)).ToArray(),
        _ => Layers!,
    };

    /// <summary>The head inputs and the layers that feed them.</summary>
    public static int[] NeckLayers(YoloModel model) => model.HeadInputs
        .SelectMany(h => model.Layers[h].From.Where(f => f >= 0 && model.Layers[f].Stride > 0).Append(h))
        .Distinct().Order().ToArray();
}
