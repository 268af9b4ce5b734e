using System.Collections.Concurrent;
using System.Diagnostics;

namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>Counters the pipeline updates as it runs (thread-safe); read for progress and the summary.</summary>
public sealed class PipelineStatistics
{
    private long _captured, _processed, _dropped, _detections, _explained, _reconnects;
    private double _preprocess, _forward, _nms, _explain, _render, _write;
    private readonly object _gate = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly ConcurrentQueue<double> _recent = new();
    private long _firstFrameTicks = -1;

    /// <summary>Frames read from sources (after <c>--vid-stride</c>).</summary>
    public long Captured => Interlocked.Read(ref _captured);

    /// <summary>Frames written to every sink.</summary>
    public long Processed => Interlocked.Read(ref _processed);

    /// <summary>Frames dropped (live sources only).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Detections in processed frames.</summary>
    public long Detections => Interlocked.Read(ref _detections);

    /// <summary>Frames explained.</summary>
    public long Explained => Interlocked.Read(ref _explained);

    /// <summary>Reconnections of live sources.</summary>
    public long Reconnects => Interlocked.Read(ref _reconnects);

    /// <summary>Per-source counters (processed, dropped, reconnects), by source index.</summary>
    public ConcurrentDictionary<int, SourceCounters> Sources { get; } = new();

    /// <summary>Counters of one source.</summary>
    public sealed class SourceCounters
    {
        internal long ProcessedCount, DroppedCount, ReconnectCount;
        private volatile int _state;
        private volatile string? _error;
        private long _latencyBits;

        /// <summary>Where the source stands.</summary>
        public SourceState State => (SourceState)_state;

        /// <summary>The source's last error (a failure to open, a lost stream), or null.</summary>
        public string? LastError => _error;

        /// <summary>Capture-to-written latency of its latest frame, ms.</summary>
        public double LatencyMs => BitConverter.Int64BitsToDouble(Interlocked.Read(ref _latencyBits));

        internal void Set(SourceState state, string? error = null)
        {
            _state = (int)state;
            if (error is not null || state == SourceState.Running) _error = error;
        }

        internal void SetLatency(double ms) => Interlocked.Exchange(ref _latencyBits, BitConverter.DoubleToInt64Bits(ms));

        private readonly Queue<long> _written = new();

        /// <summary>Frames written per second over (about) the last 30 frames.</summary>
        public double RecentFps
        {
            get
            {
                lock (_written)
                {
                    if (_written.Count < 2) return 0;
                    double span = (Stopwatch.GetTimestamp() - _written.Peek()) / (double)Stopwatch.Frequency;
                    return span > 0 ? (_written.Count - 1) / span : 0;
                }
            }
        }

        internal void Written()
        {
            lock (_written)
            {
                _written.Enqueue(Stopwatch.GetTimestamp());
                while (_written.Count > 30) _written.Dequeue();
            }
        }

        /// <summary>Frames written.</summary>
        public long Processed => Interlocked.Read(ref ProcessedCount);

        /// <summary>Frames dropped (newest-frame policy or staleness).</summary>
        public long Dropped => Interlocked.Read(ref DroppedCount);

        /// <summary>Reconnections.</summary>
        public long Reconnects => Interlocked.Read(ref ReconnectCount);
    }

    /// <summary>The counters of source <paramref name="source"/> (made on first use).</summary>
    public SourceCounters For(int source) => Sources.GetOrAdd(source, _ => new SourceCounters());

    internal void SourceStateChanged(int source, SourceState state, string? error = null) => For(source).Set(state, error);

    /// <summary>Frames expected in total, when every source's length is known.</summary>
    public long? ExpectedFrames { get; set; }

    /// <summary>Errors of sources that could not be read (the others still run).</summary>
    public ConcurrentQueue<string> SourceErrors { get; } = new();

    /// <summary>Wall time since the run started.</summary>
    public TimeSpan Elapsed => _clock.Elapsed;

    /// <summary>Mean latency (capture to written) of recent frames, ms.</summary>
    public double RecentLatencyMs => _recent.IsEmpty ? 0 : _recent.Average();

    /// <summary>Processed frames per second over the whole run.</summary>
    public double Fps => Elapsed.TotalSeconds > 0 ? Processed / Elapsed.TotalSeconds : 0;

    /// <summary>
    /// When the first frame had been written: the start-up (opening sources, building the inference session for the
    /// input size, the first pass); null before.
    /// </summary>
    public TimeSpan? FirstFrameAt => Interlocked.Read(ref _firstFrameTicks) is var t and >= 0 ? TimeSpan.FromTicks(t) : null;

    /// <summary>Frames per second from the first written frame on (the steady rate, start-up left out); null before the second frame.</summary>
    public double? FpsAfterFirstFrame
    {
        get
        {
            long processed = Processed;
            var since = Elapsed - FirstFrameAt;
            return processed >= 2 && since?.TotalSeconds > 0 ? (processed - 1) / since.Value.TotalSeconds : null;
        }
    }

    /// <summary>Mean milliseconds per processed frame of each stage.</summary>
    public IReadOnlyDictionary<string, double> MeanStageMs
    {
        get
        {
            lock (_gate)
            {
                double n = Math.Max(1, Processed);
                return new Dictionary<string, double>
                {
                    ["preprocess"] = _preprocess / n, ["forward"] = _forward / n, ["nms"] = _nms / n,
                    ["explain"] = _explain / n, ["render"] = _render / n, ["write"] = _write / n,
                };
            }
        }
    }

    /// <summary>Raised (from the sink stage) for each processed frame with its stage times: for benchmarks and live views.</summary>
    public event Action<FrameTiming>? FrameDone;

    internal void FrameCaptured() => Interlocked.Increment(ref _captured);

    internal void FrameDropped(int source)
    {
        Interlocked.Increment(ref _dropped);
        Interlocked.Increment(ref For(source).DroppedCount);
    }

    internal void Reconnected(int source)
    {
        Interlocked.Increment(ref _reconnects);
        Interlocked.Increment(ref For(source).ReconnectCount);
    }

    internal void FrameProcessed(AnalyzedFrame frame, double writeMs)
    {
        if (Interlocked.Increment(ref _processed) == 1) Interlocked.Exchange(ref _firstFrameTicks, _clock.Elapsed.Ticks);
        Interlocked.Increment(ref For(frame.Frame.SourceIndex).ProcessedCount);
        Interlocked.Add(ref _detections, frame.Result.Detections.Count);
        if (frame.Explained) Interlocked.Increment(ref _explained);
        var t = frame.Result.Timings;
        lock (_gate)
        {
            _preprocess += t.PreprocessMs;
            _forward += t.ForwardMs;
            _nms += t.NmsMs;
            _explain += t.ExplainMs;
            _render += frame.RenderMs;
            _write += writeMs;
        }
        double latency = frame.Frame.AgeMs;
        var counters = For(frame.Frame.SourceIndex);
        counters.SetLatency(latency);
        counters.Written();
        _recent.Enqueue(latency);
        while (_recent.Count > 30) _recent.TryDequeue(out _);
        FrameDone?.Invoke(new FrameTiming(frame.Frame.SourceIndex, frame.Explained, t, frame.RenderMs, writeMs, latency));
    }
}
