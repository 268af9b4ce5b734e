using StreamAnalyzer.Pipeline.Rendering;

namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>Where analysed frames end up: a video file, JSON lines, label files, a window.</summary>
public interface IFrameSink : IDisposable
{
    /// <summary>What this output shows over the picture (read for every frame, so it may change while running).</summary>
    OverlayLayers Layers => OverlayLayers.All;

    /// <summary>Writes one frame (called in order for each source); its picture is <see cref="AnalyzedFrame.ImageFor"/>(<see cref="Layers"/>).</summary>
    void Write(AnalyzedFrame frame);

    /// <summary>Source <paramref name="source"/> has ended and all its frames were written: finish its outputs.</summary>
    void CompleteSource(int source);
}
