using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary>
/// <c>--save-json</c>: one <see cref="FrameRecord"/> per processed frame, flushed as it is written - into one file for
/// the whole run, or (<see cref="PerSource"/>) one file per source, closed when that source ends. Files are opened at
/// the first frame they get: a run that never gets one (a camera that does not open) leaves no empty file.
/// </summary>
public sealed class JsonLinesSink : IFrameSink
{
    private readonly Func<int, string> _sourceName;
    private readonly Func<int, string?>? _labelOf;
    private readonly Func<int, string>? _pathOf;
    private readonly string? _singlePath;
    private JsonLinesWriter? _single;
    private readonly Dictionary<int, JsonLinesWriter> _perSource = [];

    /// <summary>Writes every source's records into <paramref name="path"/>.</summary>
    /// <param name="path">The file.</param>
    /// <param name="sourceName">Source i's path or URL, written as <c>source</c>.</param>
    /// <param name="labelOf">The name the user gave source i (<c>name=path</c>) or null, written as <c>name</c>: it tells apart sources in one file.</param>
    public JsonLinesSink(string path, Func<int, string> sourceName, Func<int, string?>? labelOf = null)
    {
        _singlePath = System.IO.Path.GetFullPath(path);
        _sourceName = sourceName;
        _labelOf = labelOf;
    }

    private JsonLinesSink(Func<int, string> pathOf, Func<int, string> sourceName, Func<int, string?>? labelOf)
    {
        _pathOf = pathOf;
        _sourceName = sourceName;
        _labelOf = labelOf;
    }

    /// <summary>Writes source i's records into <paramref name="pathOf"/>(i), opened at its first frame (see the constructor for the rest).</summary>
    public static JsonLinesSink PerSource(Func<int, string> pathOf, Func<int, string> sourceName, Func<int, string?>? labelOf = null) =>
        new(pathOf, sourceName, labelOf);

    /// <summary>The file written (one file for the run), else null.</summary>
    public string? Path => _singlePath;

    /// <inheritdoc/>
    public void Write(AnalyzedFrame frame)
    {
        int source = frame.Frame.SourceIndex;
        JsonLinesWriter? writer;
        if (_singlePath is not null) writer = _single ??= new JsonLinesWriter(_singlePath);
        else if (!_perSource.TryGetValue(source, out writer))
            _perSource[source] = writer = new JsonLinesWriter(_pathOf!(source));
        writer.Write(FrameRecord.From(_sourceName(source), frame) with { Name = _labelOf?.Invoke(source) });
    }

    /// <inheritdoc/>
    public void CompleteSource(int source)
    {
        if (_perSource.Remove(source, out var writer)) writer.Dispose();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _single?.Dispose();
        foreach (var writer in _perSource.Values) writer.Dispose();
        _perSource.Clear();
    }
}
