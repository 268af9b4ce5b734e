using StreamAnalyzer.Pipeline.Application;
using StreamAnalyzer.Pipeline.Detection;

namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>A frame with its detections (and explanations when due). Owns the frame: disposing it disposes the frame.</summary>
public sealed class AnalyzedFrame(Frame frame, DetectionResult result, bool explained, StreamControls? controls = null) : IDisposable
{
    /// <summary>The stream's settings this frame was analysed with (rendering and outputs follow them too).</summary>
    public StreamControls Controls { get; } = controls ?? new StreamControls();

    /// <summary>The frame (rendering draws on its image).</summary>
    public Frame Frame { get; } = frame;

    /// <summary>Detections and timings.</summary>
    public DetectionResult Result { get; } = result;

    /// <summary>True when this frame was explained (not a held map).</summary>
    public bool Explained { get; } = explained;

    /// <summary>Per-detection map statistics for the explained detections (null when not explained).</summary>
    public IReadOnlyList<MapStatistics>? MapStatistics { get; set; }

    /// <summary>Milliseconds spent rendering.</summary>
    public double RenderMs { get; set; }

    /// <inheritdoc/>
    public void Dispose() => Frame.Dispose();
}
