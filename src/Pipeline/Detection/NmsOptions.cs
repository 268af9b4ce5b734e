using StreamAnalyzer.Pipeline.Model;

namespace StreamAnalyzer.Pipeline.Detection;

/// <summary>
/// Post-processing settings, as upstream's <c>non_max_suppression</c> takes them. Thresholds and the detection cap
/// left null take the model family's own defaults (<see cref="WithDefaults"/>, applied by <see cref="Detector"/>).
/// </summary>
/// <param name="ConfThreshold">Minimum confidence (and, with objectness, minimum objectness); null: the family's default.</param>
/// <param name="IouThreshold">Boxes overlapping a better one by more than this are suppressed; null: the family's default.</param>
/// <param name="Classes">Keep only these class ids (null: all).</param>
/// <param name="Agnostic">Suppress across classes, not only within a class.</param>
/// <param name="MultiLabel">One detection per class above the threshold, instead of the best class only.</param>
/// <param name="MaxDetections">At most this many detections per frame; null: the family's default.</param>
public sealed record NmsOptions(float? ConfThreshold = null, float? IouThreshold = null, IReadOnlySet<int>? Classes = null,
    bool Agnostic = false, bool MultiLabel = false, int? MaxDetections = null)
{
    /// <summary>Upstream caps the boxes entering NMS at this many (the most confident).</summary>
    public const int MaxCandidates = 30000;

    /// <summary>Pixels between classes in class-aware NMS (upstream's <c>max_wh</c>), set by <see cref="WithDefaults"/>.</summary>
    public float ClassOffset { get; init; } = 4096;

    /// <summary>YOLOv7's rule that a one-class model's confidence is its objectness alone, set by <see cref="WithDefaults"/>.</summary>
    public bool SingleClassUsesObjectness { get; init; }

    /// <summary>True once every setting is filled in.</summary>
    public bool IsResolved => ConfThreshold is not null && IouThreshold is not null && MaxDetections is not null;

    /// <summary>
    /// Refuses a class id a model of <paramref name="classCount"/> classes lacks, in the order given: keeping only it
    /// would filter out every detection, silently. <paramref name="what"/> starts the message (e.g. "--classes: ").
    /// </summary>
    /// <exception cref="Runtime.UserInputException">An id below 0 or past the model's classes.</exception>
    public static void EnsureClassesExist(IEnumerable<int>? classes, int classCount, string what = "")
    {
        foreach (int id in classes ?? [])
            if (id < 0 || id >= classCount)
                throw new Runtime.UserInputException($"{what}class {id} does not exist (the model has classes 0 to {classCount - 1})");
    }

    /// <summary>These settings with what they leave open taken from <paramref name="defaults"/>.</summary>
    public NmsOptions WithDefaults(PredictDefaults defaults) => this with
    {
        ConfThreshold = ConfThreshold ?? defaults.ConfThreshold,
        IouThreshold = IouThreshold ?? defaults.IouThreshold,
        MaxDetections = MaxDetections ?? defaults.MaxDetections,
        ClassOffset = defaults.ClassOffset,
        SingleClassUsesObjectness = defaults.SingleClassUsesObjectness,
    };
}
