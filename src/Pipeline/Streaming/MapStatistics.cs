namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>Where a detection's explanation map peaks (original-frame pixels) and how much of it lies in its box.</summary>
public sealed record MapStatistics(float PeakX, float PeakY, double MassInBox, string Layer);
