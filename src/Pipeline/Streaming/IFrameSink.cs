namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>Where analysed frames end up: a video file, JSON lines, label files, a window.</summary>
public interface IFrameSink : IDisposable
{
    /// <summary>Writes one frame (called in order for each source).</summary>
    void Write(AnalyzedFrame frame);

    /// <summary>Source <paramref name="source"/> has ended and all its frames were written: finish its outputs.</summary>
    void CompleteSource(int source);
}
