using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.WebView;

/// <summary>
/// What the page shows of one stream: its newest annotated frame as JPEG, its newest detections, and the maps of its
/// last explained frame. Written by <see cref="TileSink"/>, read by any number of viewers; viewers wait for
/// <see cref="NextFrameAsync"/> and always get the newest frame, so a slow viewer skips frames and never holds one back.
/// </summary>
public sealed class StreamTile(int index, string name, string source)
{
    private readonly Lock _gate = new();
    private TaskCompletionSource _next = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _viewers;

    /// <summary>Position in the run's source list.</summary>
    public int Index { get; } = index;

    /// <summary>Short name (URLs, file names).</summary>
    public string Name { get; } = name;

    /// <summary>The path or URL read.</summary>
    public string Source { get; } = source;

    /// <summary>The newest frame as JPEG (null before the first), with its sequence number.</summary>
    public (byte[]? Jpeg, long Sequence) Latest { get; private set; }

    /// <summary>The newest frame's detections and timings.</summary>
    public TileSnapshot? Snapshot { get; private set; }

    /// <summary>The maps of the last explained frame whose picture was published, with that picture (managed, no native resource).</summary>
    public ExplainedMaps? LastMaps { get; private set; }

    private readonly Queue<ExplainedMaps> _recentMaps = new();

    /// <summary>The published maps of frame <paramref name="frame"/> if it is one of the last few explained, else null.</summary>
    public ExplainedMaps? MapsOf(long frame)
    {
        lock (_gate) return _recentMaps.FirstOrDefault(m => m.Frame == frame);
    }

    /// <summary>Viewers now watching the frames.</summary>
    public int Viewers => Volatile.Read(ref _viewers);

    /// <summary>Counts a viewer until the returned handle is disposed.</summary>
    public IDisposable Watch()
    {
        Interlocked.Increment(ref _viewers);
        return new Viewer(this);
    }

    /// <summary>Completes when a frame newer than <paramref name="sequence"/> is available.</summary>
    public Task NextFrameAsync(long sequence, CancellationToken cancel)
    {
        Task next;
        lock (_gate)
        {
            if (Latest.Sequence > sequence) return Task.CompletedTask;
            next = _next.Task;
        }
        return next.WaitAsync(cancel);
    }

    internal void Frame(AnalyzedFrame frame)
    {
        var r = frame.Result;
        var stats = frame.MapStatistics;
        var detections = r.Detections.Select((d, i) => new TileDetection(d.ClassId, d.ClassName, d.Confidence,
            [d.Box.X1, d.Box.Y1, d.Box.X2, d.Box.Y2], stats is not null && i < stats.Count ? stats[i] : null)).ToArray();
        var snapshot = new TileSnapshot(frame.Frame.Index, frame.Explained, detections, r.Timings.PreprocessMs + r.Timings.ForwardMs + r.Timings.NmsMs,
            r.Timings.ExplainMs, frame.Frame.AgeMs, r.Geometry.SourceWidth, r.Geometry.SourceHeight);
        lock (_gate) Snapshot = snapshot;
    }

    internal void Encoded(byte[] jpeg, ExplainedMaps? maps)
    {
        TaskCompletionSource done;
        lock (_gate)
        {
            Latest = (jpeg, Latest.Sequence + 1);
            if (maps is not null)
            {
                // The last two seconds' are kept (at most 16), so a click on a map the page listed a moment ago still finds it.
                LastMaps = maps with { Picture = jpeg, PublishedAt = Environment.TickCount64 };
                _recentMaps.Enqueue(LastMaps);
                while (_recentMaps.Count > 16 || Environment.TickCount64 - _recentMaps.Peek().PublishedAt > 2000) _recentMaps.Dequeue();
            }
            done = _next;
            _next = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        done.TrySetResult();
    }

    private sealed class Viewer(StreamTile tile) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0) Interlocked.Decrement(ref tile._viewers);
        }
    }
}
