namespace StreamAnalyzer.Pipeline.Detection;

/// <summary>Milliseconds spent per stage for one frame (batch time shared equally among its frames).</summary>
/// <param name="PreprocessMs">Letterbox and tensor conversion.</param>
/// <param name="ForwardMs">The network (recording the graph above the target layers when explaining).</param>
/// <param name="NmsMs">Non-maximum suppression and mapping boxes back.</param>
/// <param name="ExplainMs">Gradients and maps for the explained detections (0 when not explained).</param>
public sealed record StageTimings(double PreprocessMs, double ForwardMs, double NmsMs, double ExplainMs = 0)
{
    /// <summary>Sum of the stages.</summary>
    public double TotalMs => PreprocessMs + ForwardMs + NmsMs + ExplainMs;
}
