namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>Where a detection's explanation map peaks (original-frame pixels), how much of it lies in its box, and how it was made.</summary>
public sealed record MapStatistics(float PeakX, float PeakY, double MassInBox, string Layer, string Method);
