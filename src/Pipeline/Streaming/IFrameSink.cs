using StreamAnalyzer.Pipeline.Rendering;

namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>Where analysed frames end up: a video file, JSON lines, label files, a window.</summary>
public interface IFrameSink : IDisposable
{
    /// <summary>What this output shows over the picture (read for every frame, so it may change while running).</summary>
    OverlayLayers Layers => OverlayLayers.All;

    /// <summary>Writes one frame (called in order for each source); its picture is <see cref="AnalyzedFrame.ImageFor"/>(<see cref="Layers"/>).</summary>
    void Write(AnalyzedFrame frame);

    /// <summary>
    /// Source <paramref name="source"/>'s first frame was read; its frames will be written at <paramref name="width"/> x
    /// <paramref name="height"/>. An output may open its file now, while the first frame is analysed (called on a
    /// capture thread, before that source's first <see cref="Write"/>).
    /// </summary>
    void SourceStarting(int source, int width, int height)
    {
    }

    /// <summary>Source <paramref name="source"/> has ended and all its frames were written: finish its outputs.</summary>
    void CompleteSource(int source);
}
