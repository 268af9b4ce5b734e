using System.Threading.Channels;
using StreamAnalyzer.Pipeline.Application;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Sources;

namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>
/// capture -> batch -> detect/explain -> render -> sinks, connected by bounded channels. Completion (and any error)
/// flows downstream through channel completion; a failing stage cancels the others. <c>stop</c> ends capture and
/// lets what was captured drain to the sinks; <c>abort</c> ends every stage at once. Either way every sink is
/// finished, so video files stay playable, and frames still in the channels are disposed.
/// </summary>
public sealed class AnalysisPipeline(Detector detector, CamExplainer? explainer, PipelineOptions options)
{
    /// <summary>Counters for progress and the summary.</summary>
    public PipelineStatistics Statistics { get; } = new();

    /// <summary>
    /// Each stream's live settings. When not given, the run keeps the pipeline options' settings and
    /// the explainer it was made with (one board for all the streams of the run, made when it starts).
    /// </summary>
    public ControlBoard? Controls { get; set; }

    /// <summary>Batches analysed at once in the last run (see <see cref="PipelineOptions.Workers"/>).</summary>
    public int Workers { get; private set; } = 1;

    /// <summary>Where reconnection messages go (stderr in the CLI).</summary>
    public Action<string>? Log { get; set; }

    /// <summary>Raised when a source is opened.</summary>
    public event Action<int, IFrameSource>? SourceOpened;

    /// <summary>Runs the sources through the pipeline into the sinks.</summary>
    public async Task RunAsync(IReadOnlyList<SourceCatalog.Entry> sources, IReadOnlyList<IFrameSink> sinks,
        CancellationToken stop, CancellationToken abort = default)
    {
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(abort);
        using var stopCapture = CancellationTokenSource.CreateLinkedTokenSource(stop, failed.Token);
        // Runs with a live source keep the queues short: latency matters more than smoothing (live sources drop stale
        // frames themselves; files beside them simply wait their turn, losing nothing).
        bool live = sources.Any(s => s.IsLive);
        var frames = Bounded<Frame>(live ? sources.Count : options.QueueCapacity);
        var batches = Bounded<IReadOnlyList<Frame>>(live ? 1 : 2);
        var analyzed = Bounded<AnalyzedFrame>(live ? 2 : options.QueueCapacity);
        var rendered = Bounded<AnalyzedFrame>(live ? 2 : options.QueueCapacity);

        var capture = new CaptureStage(sources, options, Statistics) { Log = Log };
        var sinkStage = new SinkStage(sinks, Statistics);
        capture.SourceEnded += sinkStage.SourceEnded;
        capture.SourceOpened += (i, s) => SourceOpened?.Invoke(i, s);
        var controls = Controls ??= DefaultControls(sources.Count);
        var render = new RenderStage(options, Statistics) { Layers = () => sinks.Select(s => s.Layers).ToArray() };
        var initial = Enumerable.Range(0, sources.Count).Select(controls.For).Append(controls.Defaults).Select(controls.ExplainerFor);
        var inference = new InferenceStage(detector, controls, options, live, initial.All(e => e?.SupportsConcurrentCalls != false)) { Stopping = stop };
        Workers = controls.Workers = inference.Workers;
        capture.FirstFrameRead += inference.WarmUp;
        // Outputs can open their files ahead; frames are written at their own size unless shown side by side.
        if (!options.SideBySide)
            capture.FirstFrameRead += (source, width, height) => { foreach (var sink in sinks) sink.SourceStarting(source, width, height); };

        async Task Guard(Func<Task> stage)
        {
            try
            {
                await stage().ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // One stage failing stops the others; its error reaches the caller.
                await failed.CancelAsync().ConfigureAwait(false);
                throw;
            }
        }

        var tasks = new[]
        {
            Guard(() => capture.RunAsync(frames.Writer, stopCapture.Token)),
            Guard(() => new BatchingStage(options, Statistics).RunAsync(frames.Reader, batches.Writer, failed.Token)),
            // Tensor work runs on a thread of its own; it never holds a dispose scope across an await.
            Guard(() => Task.Factory.StartNew(() => inference.RunAsync(batches.Reader, analyzed.Writer, failed.Token),
                CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap()),
            Guard(() => render.RunAsync(analyzed.Reader, rendered.Writer, failed.Token)),
            Guard(() => sinkStage.RunAsync(rendered.Reader, failed.Token)),
        };
        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (Exception) when (tasks.All(t => t.IsCanceled || t.IsCompletedSuccessfully || t.Exception?.InnerExceptions.All(e => e is OperationCanceledException) == true))
        {
            // Only cancellations: an abort on request.
        }
        finally
        {
            Drain(frames.Reader, f => f.Dispose());
            Drain(batches.Reader, b => { foreach (var f in b) f.Dispose(); });
            Drain(analyzed.Reader, f => f.Dispose());
            Drain(rendered.Reader, f => f.Dispose());
        }
        var errors = tasks.Where(t => t.IsFaulted).SelectMany(t => t.Exception!.InnerExceptions).Where(e => e is not OperationCanceledException).ToArray();
        if (errors.Length == 1) throw errors[0];
        if (errors.Length > 1) throw new AggregateException(errors);
    }

    private ControlBoard DefaultControls(int sources)
    {
        var cache = new ExplainerCache(detector.Model);
        if (explainer is not null) cache.Add(explainer);
        var initial = new StreamControls
        {
            Method = explainer?.Method.Name ?? "gradcam", Target = explainer?.Target.Name ?? "logit", Layers = explainer?.Layers.ToString() ?? "auto",
            TopK = options.TopK, CamEvery = explainer is null ? 0 : options.CamEvery, Alpha = options.Alpha,
        };
        return new ControlBoard(initial, sources, detector.Names.Count, cache.Get);
    }

    private static Channel<T> Bounded<T>(int capacity) => Channel.CreateBounded<T>(new BoundedChannelOptions(Math.Max(1, capacity))
    {
        FullMode = BoundedChannelFullMode.Wait, SingleReader = true, SingleWriter = false,
    });

    private static void Drain<T>(ChannelReader<T> reader, Action<T> dispose)
    {
        while (reader.TryRead(out var item)) dispose(item);
    }
}
