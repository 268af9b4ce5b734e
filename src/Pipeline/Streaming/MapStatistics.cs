namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>
/// Where a detection's explanation map peaks (original-frame pixels), how much of it lies in its box, how it was made,
/// and, with <c>--cam-faithfulness</c>, its deletion and insertion scores.
/// </summary>
public sealed record MapStatistics(float PeakX, float PeakY, double MassInBox, string Layer, string Method,
    Explainers.Faithfulness.FaithfulnessScore? Faithfulness = null);
