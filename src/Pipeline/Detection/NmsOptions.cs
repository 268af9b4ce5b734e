namespace StreamAnalyzer.Pipeline.Detection;

/// <summary>Settings of upstream <c>non_max_suppression</c>.</summary>
/// <param name="ConfThreshold">Minimum objectness, and minimum objectness x class probability.</param>
/// <param name="IouThreshold">Boxes overlapping a better one by more than this are suppressed.</param>
/// <param name="Classes">Keep only these class ids (null: all).</param>
/// <param name="Agnostic">Suppress across classes, not only within a class.</param>
/// <param name="MultiLabel">One detection per class above the threshold, instead of the best class only.</param>
/// <param name="MaxDetections">At most this many detections per frame.</param>
public sealed record NmsOptions(float ConfThreshold = 0.25f, float IouThreshold = 0.45f, IReadOnlySet<int>? Classes = null,
    bool Agnostic = false, bool MultiLabel = false, int MaxDetections = 300)
{
    /// <summary>Upstream caps the boxes entering NMS at this many (the most confident).</summary>
    public const int MaxCandidates = 30000;
}
