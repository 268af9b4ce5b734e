using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary><c>--save-json</c>: one <see cref="FrameRecord"/> per processed frame, flushed as it is written.</summary>
public sealed class JsonLinesSink(string path, Func<int, string> sourceName) : IFrameSink
{
    private readonly JsonLinesWriter _writer = new(path);

    /// <summary>The file written.</summary>
    public string Path => _writer.Path;

    /// <inheritdoc/>
    public void Write(AnalyzedFrame frame) => _writer.Write(FrameRecord.From(sourceName(frame.Frame.SourceIndex), frame));

    /// <inheritdoc/>
    public void CompleteSource(int source) { }

    /// <inheritdoc/>
    public void Dispose() => _writer.Dispose();
}
