using Prometheus;
using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.WebView;

/// <summary>
/// The run's Prometheus metrics, per stream: frames, drops, reconnects, whether it is up, and histograms of latency,
/// inference and explanation time. A registry of its own (not the process-wide default), so two runs in one process
/// never share series.
/// </summary>
public sealed class StreamMetrics : IDisposable
{
    private static readonly double[] LatencyBuckets = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
    private static readonly double[] StageBuckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1];
    private readonly PipelineStatistics _statistics;
    private readonly IReadOnlyList<StreamTile> _tiles;
    private readonly Histogram _latency, _inference, _explain;

    /// <summary>Registers the metrics and follows <paramref name="statistics"/>.</summary>
    public StreamMetrics(PipelineStatistics statistics, IReadOnlyList<StreamTile> tiles)
    {
        _statistics = statistics;
        _tiles = tiles;
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        string[] labels = ["stream"];
        var frames = factory.CreateCounter("streamanalyzer_frames_total", "Frames analysed and written", labels);
        var dropped = factory.CreateCounter("streamanalyzer_dropped_frames_total", "Frames dropped (newest-frame policy or staleness)", labels);
        var reconnects = factory.CreateCounter("streamanalyzer_reconnects_total", "Successful reconnections of a live stream (failed attempts show as streamanalyzer_stream_up 0)", labels);
        var up = factory.CreateGauge("streamanalyzer_stream_up", "1 while the stream delivers frames", labels);
        var viewers = factory.CreateGauge("streamanalyzer_web_viewers", "Browsers watching the stream", labels);
        _latency = factory.CreateHistogram("streamanalyzer_latency_seconds", "Capture to written, per frame",
            new HistogramConfiguration { LabelNames = labels, Buckets = LatencyBuckets });
        _inference = factory.CreateHistogram("streamanalyzer_inference_seconds", "Preprocess, forward pass and NMS, per frame",
            new HistogramConfiguration { LabelNames = labels, Buckets = StageBuckets });
        _explain = factory.CreateHistogram("streamanalyzer_explanation_seconds", "Explanation time of explained frames",
            new HistogramConfiguration { LabelNames = labels, Buckets = StageBuckets });
        // Counters mirror the pipeline's own (the single source of truth) when scraped.
        Registry.AddBeforeCollectCallback(() =>
        {
            foreach (var tile in _tiles)
            {
                var c = _statistics.For(tile.Index);
                frames.WithLabels(tile.Name).IncTo(c.Processed);
                dropped.WithLabels(tile.Name).IncTo(c.Dropped);
                reconnects.WithLabels(tile.Name).IncTo(c.Reconnects);
                up.WithLabels(tile.Name).Set(c.State == SourceState.Running ? 1 : 0);
                viewers.WithLabels(tile.Name).Set(tile.Viewers);
            }
        });
        _statistics.FrameDone += Observe;
    }

    /// <summary>The registry <c>/metrics</c> exports.</summary>
    public CollectorRegistry Registry { get; }

    private void Observe(FrameTiming t)
    {
        if ((uint)t.Source >= (uint)_tiles.Count) return;
        string name = _tiles[t.Source].Name;
        _latency.WithLabels(name).Observe(t.LatencyMs / 1000);
        _inference.WithLabels(name).Observe((t.Stages.PreprocessMs + t.Stages.ForwardMs + t.Stages.NmsMs) / 1000);
        if (t.Explained) _explain.WithLabels(name).Observe(t.Stages.ExplainMs / 1000);
    }

    /// <inheritdoc/>
    public void Dispose() => _statistics.FrameDone -= Observe;
}
