namespace StreamAnalyzer.Pipeline.Detection;

/// <summary>Milliseconds spent per stage for one frame (batch time shared equally among its frames).</summary>
public sealed record StageTimings(double PreprocessMs, double ForwardMs, double NmsMs)
{
    /// <summary>Sum of the stages.</summary>
    public double TotalMs => PreprocessMs + ForwardMs + NmsMs;
}
