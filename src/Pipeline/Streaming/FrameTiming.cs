using StreamAnalyzer.Pipeline.Detection;

namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>Where one processed frame's time went.</summary>
/// <param name="Source">Index of its source.</param>
/// <param name="Explained">Whether it was explained.</param>
/// <param name="Stages">Preprocess, forward, NMS and explanation (its batch's times shared among the batch).</param>
/// <param name="RenderMs">Drawing the overlay.</param>
/// <param name="WriteMs">Handing it to every output.</param>
/// <param name="LatencyMs">From capture to written.</param>
public sealed record FrameTiming(int Source, bool Explained, StageTimings Stages, double RenderMs, double WriteMs, double LatencyMs);
