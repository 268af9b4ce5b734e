using System.Threading.Channels;
using StreamAnalyzer.Pipeline.Application;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>
/// Runs the detector on each batch; every <c>--cam-every</c>-th processed frame of a source is explained from the
/// same forward pass. With several workers, batches are analysed at once on threads of their own (each with its share
/// of the intra-op threads) and leave in the order they came. The tensor work happens inside <see cref="Detector"/>'s
/// own dispose scopes, never across an await.
/// </summary>
public sealed class InferenceStage
{
    private readonly Detector _detector;
    private readonly ControlBoard _controls;
    private readonly PipelineOptions _options;
    private readonly Dictionary<int, long> _processedPerSource = [];
    private readonly List<Task> _warmUps = [];
    private bool _warmUpsClosed;

    /// <summary>Plans the stage.</summary>
    /// <param name="detector">The detector.</param>
    /// <param name="controls">Each stream's live settings (method, top-K, thresholds...), read per frame.</param>
    /// <param name="options">Threads and workers.</param>
    /// <param name="live">The sources are live (one worker keeps latency down).</param>
    /// <param name="concurrentExplainer">Whether the explainers in use allow concurrent calls.</param>
    public InferenceStage(Detector detector, ControlBoard controls, PipelineOptions options, bool live = false, bool concurrentExplainer = true)
    {
        _detector = detector;
        _controls = controls;
        _options = options;
        bool concurrent = detector.SupportsConcurrentCalls && concurrentExplainer;
        int threads = detector.IntraOpThreads;
        Workers = options.Workers switch
        {
            0 => concurrent && !live && threads >= 2 ? 2 : 1,
            1 => 1,
            var n when !concurrent => throw new UserInputException(
                $"--workers {n}: concurrent workers need the onnx backend and layers without submodules; use --workers 1"),
            var n => n,
        };
        ThreadsPerWorker = Workers == 1 ? threads : Math.Max(1, threads / Workers);
    }

    /// <summary>
    /// Prepares, on another thread, what the first frames of source <paramref name="source"/> (of
    /// <paramref name="width"/> x <paramref name="height"/>) need once - the explainer's windows, ONNX Runtime's sessions -
    /// so that the first frame does not wait for them (for one frame per forward pass, as files are read). Whatever is
    /// not ready when the first frame gets there is waited for, not done twice.
    /// </summary>
    public void WarmUp(int source, int width, int height)
    {
        if (_options.Batch != 1) return;
        var controls = _controls.For(source);
        Prepare(() => _detector.Prepare(width, height, _controls.ExplainerFor(controls), ThreadsPerWorker, spin: false));
    }

    // Preparations run beside the stage, which waits for them before it ends and starts none after (the detector may be
    // disposed then). A failing one loses nothing: the first frame meets the same problem and reports it where errors
    // are handled.
    private void Prepare(Action work)
    {
        lock (_warmUps)
        {
            if (_warmUpsClosed) return;
            _warmUps.Add(Task.Run(() =>
            {
                using var scope = TorchSharp.torch.NewDisposeScope();
                work();
            }).ContinueWith(_ => { }, TaskScheduler.Default));
        }
    }

    /// <summary>
    /// Cancelled when the run is asked to stop (Ctrl+C, <c>--duration</c>, the window closed): frames already read are
    /// still detected and written, but no longer explained. A perturbation map being computed (D-RISE, LIME, Score-CAM:
    /// seconds a frame) is given up when its options carry the same token (<c>PerturbationOptions.Cancellation</c>).
    /// </summary>
    public CancellationToken Stopping { get; set; }

    /// <summary>Batches analysed at once.</summary>
    public int Workers { get; }

    /// <summary>Intra-op threads each worker runs with.</summary>
    public int ThreadsPerWorker { get; }

    /// <summary>Runs until the input completes, then completes <paramref name="output"/>.</summary>
    public async Task RunAsync(ChannelReader<IReadOnlyList<Frame>> input, ChannelWriter<AnalyzedFrame> output, CancellationToken abort)
    {
        int previousThreads = _detector.IntraOpThreads;
        bool previousSpin = _detector.SpinWhileWaiting;
        _detector.IntraOpThreads = ThreadsPerWorker;
        // Decoding, rendering and encoding share the cores: threads waiting for work sleep instead of spinning.
        _detector.SpinWhileWaiting = false;
        // What the explainers measure once about the model needs no frame: done while the sources open.
        Prepare(() =>
        {
            var explainers = Enumerable.Range(0, _controls.Sources).Select(_controls.For).Select(_controls.ExplainerFor).OfType<CamExplainer>().Distinct();
            foreach (var explainer in explainers) explainer.Prepare();
        });
        try
        {
            await StageCompletion.RunAsync(output, () => Workers == 1 ? RunOneAsync(input, output, abort) : RunManyAsync(input, output, abort))
                .ConfigureAwait(false);
        }
        finally
        {
            // The detector (and its model) may be disposed once the stage ends: no preparation may still be using it.
            Task[] warmUps;
            lock (_warmUps)
            {
                _warmUpsClosed = true;
                warmUps = [.. _warmUps];
            }
            await Task.WhenAll(warmUps).ConfigureAwait(false);
            _detector.IntraOpThreads = previousThreads;
            _detector.SpinWhileWaiting = previousSpin;
        }
    }

    private async Task RunOneAsync(ChannelReader<IReadOnlyList<Frame>> input, ChannelWriter<AnalyzedFrame> output, CancellationToken abort)
    {
        await foreach (var batch in input.ReadAllAsync(abort).ConfigureAwait(false))
        {
            AnalyzedFrame[] analyzed;
            try
            {
                analyzed = Analyze(batch, Due(batch));
            }
            catch
            {
                foreach (var f in batch) f.Dispose();
                throw;
            }
            await WriteAsync(analyzed, output, abort).ConfigureAwait(false);
        }
    }

    // A dispatcher hands batches to the workers through `work` and queues each batch's result-to-be in `pending`, in
    // arrival order; the writer awaits them in that order. `pending`'s capacity bounds the batches in flight: one per
    // worker plus one queued, so a worker that finishes takes the next batch at once instead of waiting for the writer's
    // and dispatcher's continuations to get a core (on 2 busy cores that wait cost 6-10% of the end-to-end rate).
    private async Task RunManyAsync(ChannelReader<IReadOnlyList<Frame>> input, ChannelWriter<AnalyzedFrame> output, CancellationToken abort)
    {
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(abort);
        var work = Channel.CreateUnbounded<WorkItem>(new UnboundedChannelOptions { SingleWriter = true });
        var pending = Channel.CreateBounded<Task<AnalyzedFrame[]>>(new BoundedChannelOptions(Workers) { SingleReader = true, SingleWriter = true });
        var workers = Enumerable.Range(0, Workers).Select(_ => Task.Factory.StartNew(() => Work(work.Reader, failed.Token),
            CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default)).ToArray();

        async Task Dispatch()
        {
            try
            {
                await foreach (var batch in input.ReadAllAsync(failed.Token).ConfigureAwait(false))
                {
                    var item = new WorkItem(batch, Due(batch));
                    try
                    {
                        await pending.Writer.WriteAsync(item.Result.Task, failed.Token).ConfigureAwait(false);
                    }
                    catch
                    {
                        foreach (var f in batch) f.Dispose();
                        throw;
                    }
                    if (!work.Writer.TryWrite(item))
                    {
                        foreach (var f in batch) f.Dispose();
                        item.Result.TrySetCanceled();
                    }
                }
            }
            finally
            {
                work.Writer.TryComplete();
                pending.Writer.TryComplete();
            }
        }

        // The result awaited when a failure elsewhere stopped the workers: its batch may never be taken, so the wait is
        // cancellable, and the frames are disposed below if a worker did finish it.
        Task<AnalyzedFrame[]>? abandoned = null;

        async Task Collect()
        {
            await foreach (var result in pending.Reader.ReadAllAsync(failed.Token).ConfigureAwait(false))
            {
                AnalyzedFrame[] analyzed;
                try
                {
                    analyzed = await result.WaitAsync(failed.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    abandoned = result;
                    throw;
                }
                await WriteAsync(analyzed, output, failed.Token).ConfigureAwait(false);
            }
        }

        var dispatch = Dispatch();
        var collect = Collect();
        try
        {
            await Task.WhenAll(
                dispatch.ContinueWith(t => { if (!t.IsCompletedSuccessfully) failed.Cancel(); }, TaskScheduler.Default),
                collect.ContinueWith(t => { if (!t.IsCompletedSuccessfully) failed.Cancel(); }, TaskScheduler.Default)).ConfigureAwait(false);
            // A real error wins over the cancellation it caused in the other half.
            var error = new[] { dispatch, collect }.Where(t => t.IsFaulted).SelectMany(t => t.Exception!.InnerExceptions)
                .FirstOrDefault(e => e is not OperationCanceledException);
            if (error is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(error);
            await Task.WhenAll(dispatch, collect).ConfigureAwait(false);
        }
        finally
        {
            // Workers finish the batch in hand; then nothing is left that is not disposed here.
            work.Writer.TryComplete();
            await Task.WhenAll(workers).ConfigureAwait(false);
            while (work.Reader.TryRead(out var left))
            {
                foreach (var f in left.Batch) f.Dispose();
                left.Result.TrySetCanceled();
            }
            if (abandoned is { IsCompletedSuccessfully: true })
                foreach (var f in abandoned.Result) f.Dispose();
            while (pending.Reader.TryRead(out var result))
                if (result.IsCompletedSuccessfully)
                    foreach (var f in result.Result) f.Dispose();
        }
    }

    private void Work(ChannelReader<WorkItem> work, CancellationToken abort)
    {
        while (Take(work, abort) is { } item)
        {
            try
            {
                item.Result.SetResult(Analyze(item.Batch, item.Due));
            }
            catch (Exception e)
            {
                foreach (var f in item.Batch) f.Dispose();
                item.Result.SetException(e);
            }
        }
    }

    // The next item, waiting for one; null once the channel is done or on abort.
    private static WorkItem? Take(ChannelReader<WorkItem> work, CancellationToken abort)
    {
        try
        {
            while (!abort.IsCancellationRequested)
            {
                if (work.TryRead(out var item)) return item;
                if (!work.WaitToReadAsync(abort).AsTask().GetAwaiter().GetResult()) return null;
            }
        }
        catch (OperationCanceledException)
        {
        }
        return null;
    }

    private static async Task WriteAsync(AnalyzedFrame[] analyzed, ChannelWriter<AnalyzedFrame> output, CancellationToken abort)
    {
        for (int i = 0; i < analyzed.Length; i++)
        {
            try
            {
                await output.WriteAsync(analyzed[i], abort).ConfigureAwait(false);
            }
            catch
            {
                for (int j = i; j < analyzed.Length; j++) analyzed[j].Dispose();
                throw;
            }
        }
    }

    // Which frames of the batch are explained, and with which settings: read once per frame (a change applies from
    // the next frame), counted per source in arrival order (so by the dispatcher alone).
    private Plan[] Due(IReadOnlyList<Frame> batch)
    {
        var plans = new Plan[batch.Count];
        for (int i = 0; i < batch.Count; i++)
        {
            var controls = _controls.For(batch[i].SourceIndex);
            long n = _processedPerSource.GetValueOrDefault(batch[i].SourceIndex);
            _processedPerSource[batch[i].SourceIndex] = n + 1;
            plans[i] = new Plan(controls, controls.CamEvery > 0 && n % controls.CamEvery == 0);
        }
        return plans;
    }

    // Frames with the same settings (and the same explain decision) share a forward pass.
    private AnalyzedFrame[] Analyze(IReadOnlyList<Frame> batch, Plan[] plans)
    {
        var result = new AnalyzedFrame[batch.Count];
        foreach (var group in Enumerable.Range(0, batch.Count).GroupBy(i => plans[i]))
        {
            var members = group.ToArray();
            var (controls, explain) = group.Key;
            // Asked when the batch's turn comes, not when it was planned: batches wait in line after a stop too.
            var explainer = explain && !Stopping.IsCancellationRequested ? _controls.ExplainerFor(controls) : null;
            var baseNms = _detector.Options.Nms!;
            var nms = baseNms with
            {
                ConfThreshold = controls.ConfThreshold ?? baseNms.ConfThreshold,
                Classes = controls.Classes is { Count: > 0 } classes ? classes.ToHashSet() : baseNms.Classes,
            };
            var images = members.Select(i => batch[i].Image).ToArray();
            IReadOnlyList<DetectionResult> results;
            try
            {
                results = _detector.Detect(images, explainer, controls.TopK, nms);
            }
            catch (OperationCanceledException) when (explainer is not null && Stopping.IsCancellationRequested)
            {
                // A perturbation map given up for the stop (PerturbationOptions.Cancellation): the frames go without it.
                explainer = null;
                results = _detector.Detect(images, null, controls.TopK, nms);
            }
            for (int k = 0; k < members.Length; k++)
                result[members[k]] = new AnalyzedFrame(batch[members[k]], results[k], explainer is not null, controls);
        }
        return result;
    }

    // Records compare by value, and the settings by reference: frames read the same settings instance until a change.
    private readonly record struct Plan(StreamControls Controls, bool Explain);

    private sealed record WorkItem(IReadOnlyList<Frame> Batch, Plan[] Due)
    {
        public TaskCompletionSource<AnalyzedFrame[]> Result { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
