using System.Threading.Channels;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Sources;

namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>
/// Reads the sources into the frame channel: several at a time (so batches can mix them), each in order, every
/// <c>--vid-stride</c>-th frame; still images one after another in the order given. File sources wait when the
/// channel is full: nothing is lost. Live sources keep only their newest frame (a one-frame DropOldest channel each;
/// dropped frames are disposed and counted), are stamped with their own wall clock, and reconnect with backoff after a
/// drop or a stall. A source that cannot be opened at all is reported and skipped; the others run.
/// </summary>
public sealed class CaptureStage(IReadOnlyList<SourceCatalog.Entry> sources, PipelineOptions options, PipelineStatistics statistics)
{
    /// <summary>Raised (from a capture thread) when source i has delivered its last frame: (source index, frames delivered).</summary>
    public event Action<int, long>? SourceEnded;

    /// <summary>Raised when a source is opened: (source index, the open source).</summary>
    public event Action<int, IFrameSource>? SourceOpened;

    /// <summary>
    /// Raised (from a capture thread) when a source's first frame has been read, before it is passed on: (source index,
    /// width, height). What the frames need can be prepared from then on, while the first one is on its way.
    /// </summary>
    public event Action<int, int, int>? FirstFrameRead;

    /// <summary>Where reconnection messages go.</summary>
    public Action<string>? Log { get; init; }

    /// <summary>Runs until every source ends or <paramref name="stop"/> is cancelled, then completes <paramref name="output"/>.</summary>
    public async Task RunAsync(ChannelWriter<Frame> output, CancellationToken stop)
    {
        using var slots = new SemaphoreSlim(Math.Max(1, options.MaxOpenSources));
        Exception? failure = null;
        try
        {
            // A file source read while it holds one of the open-file slots.
            async Task ReadFileAsync(int index, SourceCatalog.Entry entry)
            {
                await slots.WaitAsync(stop).ConfigureAwait(false);
                try
                {
                    await ReadSourceAsync(index, entry, output, stop).ConfigureAwait(false);
                }
                finally
                {
                    slots.Release();
                }
            }
            var readers = new List<Task>();
            var stills = new List<int>();
            for (int i = 0; i < sources.Count; i++)
            {
                int index = i;
                var entry = sources[index];
                if (entry.IsLive)
                    readers.Add(Task.Factory.StartNew(() => ReadLiveSourceAsync(index, entry, output, stop), CancellationToken.None,
                        TaskCreationOptions.LongRunning, TaskScheduler.Default).Unwrap());
                else if (entry.IsImage) stills.Add(index);
                else readers.Add(Task.Run(() => ReadFileAsync(index, entry), CancellationToken.None));
            }
            // Still images are passed on one after another, in the order given, so that a folder's outputs (its JSON
            // lines) come in that order, as detect's do; they are decoded ahead, as many at a time as files are open.
            if (stills.Count > 0)
                readers.Add(Task.Run(async () =>
                {
                    var ahead = new Queue<(int Index, ImageFrameSource Image)>();
                    try
                    {
                        int next = 0;
                        while (next < stills.Count || ahead.Count > 0)
                        {
                            for (; next < stills.Count && ahead.Count < Math.Max(1, options.MaxOpenSources); next++)
                                ahead.Enqueue((stills[next], new ImageFrameSource(sources[stills[next]].Name).DecodeAhead()));
                            var (index, image) = ahead.Dequeue();
                            using (image) // passed on, or disposed (stopped first)
                                await ReadFileAsync(index, sources[index] with { Open = () => image }).ConfigureAwait(false);
                        }
                    }
                    finally
                    {
                        foreach (var (_, image) in ahead) image.Dispose(); // stopped: decoded images never passed on
                    }
                }, CancellationToken.None));
            await Task.WhenAll(readers).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped on request: what was captured flows on.
        }
        catch (Exception e)
        {
            failure = e;
            throw;
        }
        finally
        {
            output.TryComplete(failure);
        }
    }

    private async Task ReadSourceAsync(int index, SourceCatalog.Entry entry, ChannelWriter<Frame> output, CancellationToken stop)
    {
        long delivered = 0;
        IFrameSource source;
        statistics.SourceStateChanged(index, SourceState.Connecting);
        try
        {
            source = entry.Open();
        }
        catch (UserInputException e)
        {
            Failed(index, e.Message);
            SourceEnded?.Invoke(index, 0);
            return;
        }
        using (source)
        {
            statistics.SourceStateChanged(index, SourceState.Running);
            SourceOpened?.Invoke(index, source);
            long frameIndex = options.FirstFrame;
            try
            {
                // Resuming: the frames before the first number were analysed elsewhere.
                for (long k = 0; k < options.FirstFrame && !stop.IsCancellationRequested; k++)
                {
                    if (!source.TryRead(out var skipped, out _)) break;
                    skipped.Dispose();
                }
                while (!stop.IsCancellationRequested)
                {
                    bool got;
                    OpenCvSharp.Mat image;
                    double timestamp;
                    try
                    {
                        got = source.TryRead(out image, out timestamp);
                    }
                    catch (UserInputException e)
                    {
                        Failed(index, e.Message);
                        break;
                    }
                    if (!got) break;
                    if (frameIndex == options.FirstFrame) FirstFrameRead?.Invoke(index, image.Width, image.Height);
                    long i = frameIndex++;
                    if (i % Math.Max(1, options.VidStride) != 0)
                    {
                        image.Dispose();
                        continue;
                    }
                    var frame = new Frame(image, index, i, timestamp);
                    try
                    {
                        await output.WriteAsync(frame, stop).ConfigureAwait(false);
                    }
                    catch
                    {
                        frame.Dispose();
                        throw;
                    }
                    delivered++;
                    statistics.FrameCaptured();
                }
                if (!stop.IsCancellationRequested) ReportShortSource(index, source, frameIndex);
            }
            finally
            {
                if (statistics.For(index).State != SourceState.Failed) statistics.SourceStateChanged(index, SourceState.Ended);
                SourceEnded?.Invoke(index, delivered);
            }
        }
    }

    // A file that decodes to nothing, or to fewer frames than its container lists, is damaged or truncated: the
    // frames read were processed, and the run reports the rest as missing (a container's count can be an estimate
    // off by a frame or two, hence the tolerance).
    private void ReportShortSource(int index, IFrameSource source, long read)
    {
        if (source.IsImage) return;
        if (read == 0)
            Failed(index, $"{source.Name}: no frame could be decoded (the file is damaged or not a video)");
        else if (source.FrameCount is long listed && read < listed - Math.Max(2, listed / 100))
            Failed(index, $"{source.Name}: ended after {read} of {listed} frames (truncated or damaged); the frames read were processed");
    }

    // An error ends the source (the others run on) and is reported at the end of the run.
    private void Failed(int index, string message)
    {
        statistics.SourceErrors.Enqueue(message);
        statistics.SourceStateChanged(index, SourceState.Failed, message);
    }

    private async Task ReadLiveSourceAsync(int index, SourceCatalog.Entry entry, ChannelWriter<Frame> output, CancellationToken stop)
    {
        var newest = Channel.CreateBounded<Frame>(
            new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = true },
            dropped =>
            {
                dropped.Dispose();
                statistics.FrameDropped(index);
            });
        long forwarded = 0;
        var forwarder = Task.Run(async () =>
        {
            await foreach (var frame in newest.Reader.ReadAllAsync(CancellationToken.None).ConfigureAwait(false))
            {
                try
                {
                    await output.WriteAsync(frame, stop).ConfigureAwait(false);
                    forwarded++;
                }
                catch
                {
                    frame.Dispose();
                    if (stop.IsCancellationRequested) continue; // keep draining: every frame still gets disposed
                    throw;
                }
            }
        }, CancellationToken.None);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        double startMs = options.TimelineOrigin is { } origin
            ? Math.Max(options.FirstTimestampMs, (DateTimeOffset.UtcNow - origin).TotalMilliseconds)
            : options.FirstTimestampMs;
        var live = options.Live;
        var backoff = live.InitialBackoff;
        long frameIndex = options.FirstFrame;
        bool everConnected = false;
        int failures = 0;
        // A failed reconnection (the source would not open, or opened without a frame): logged and counted against
        // --max-reconnects. True when that gives up on the source, which is said when it happens, not only in the run's
        // closing errors: the other sources go on.
        bool AttemptFailed(string why)
        {
            failures++;
            Log?.Invoke($"{entry.Shown}: reconnection attempt {failures} failed: {why}");
            if (live.MaxReconnects <= 0 || failures < live.MaxReconnects) return false;
            string gaveUp = $"{entry.Shown}: gave up after {failures} failed reconnection attempts";
            Log?.Invoke(gaveUp);
            Failed(index, gaveUp);
            return true;
        }
        try
        {
            while (!stop.IsCancellationRequested)
            {
                IFrameSource source;
                if (!everConnected) statistics.SourceStateChanged(index, SourceState.Connecting);
                try
                {
                    source = entry.Open();
                }
                catch (UserInputException e)
                {
                    if (!everConnected)
                    {
                        Failed(index, e.Message);
                        return;
                    }
                    statistics.SourceStateChanged(index, SourceState.Reconnecting, e.Message);
                    if (AttemptFailed(e.Message)) return;
                    if (!await Wait(backoff, stop).ConfigureAwait(false)) return;
                    backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, live.MaxBackoff.Ticks));
                    continue;
                }

                bool gotFrame = false;
                string reason = "";
                using (source)
                using (stop.Register(() => (source as FfmpegStreamSource)?.Interrupt()))
                {
                    SourceOpened?.Invoke(index, source);
                    while (!stop.IsCancellationRequested && source.TryRead(out var image, out _))
                    {
                        if (!gotFrame)
                        {
                            gotFrame = true;
                            statistics.SourceStateChanged(index, SourceState.Running);
                            if (everConnected)
                            {
                                statistics.Reconnected(index);
                                Log?.Invoke($"{entry.Shown}: reconnected");
                            }
                            if (!everConnected) FirstFrameRead?.Invoke(index, image.Width, image.Height);
                            everConnected = true;
                            failures = 0;
                            backoff = live.InitialBackoff;
                        }
                        long i = frameIndex++;
                        if (i % Math.Max(1, options.VidStride) != 0)
                        {
                            image.Dispose();
                            continue;
                        }
                        // The newest frame replaces an unread older one (which is disposed and counted).
                        newest.Writer.TryWrite(new Frame(image, index, i, startMs + clock.Elapsed.TotalMilliseconds, isLive: true));
                        statistics.FrameCaptured();
                    }
                    if (!stop.IsCancellationRequested && source is FfmpegStreamSource stream) reason = stream.Failure;
                }
                if (stop.IsCancellationRequested) break;
                string because = reason.Length > 0 ? $" ({reason})" : "";
                if (!everConnected)
                {
                    Failed(index, $"{entry.Shown}: opened, but no frame arrived{because}");
                    return;
                }
                if (gotFrame)
                {
                    Log?.Invoke($"{entry.Shown}: stream lost (ended, or no frame for {live.StallTimeout.TotalSeconds:0} s){because}; reconnecting");
                    statistics.SourceStateChanged(index, SourceState.Reconnecting, $"stream lost at {DateTime.Now:HH:mm:ss}");
                }
                else if (AttemptFailed($"opened, but no frame arrived{because}"))
                {
                    return;
                }
                if (!await Wait(backoff, stop).ConfigureAwait(false)) break;
                if (!gotFrame) backoff = TimeSpan.FromTicks(Math.Min(backoff.Ticks * 2, live.MaxBackoff.Ticks));
            }
        }
        finally
        {
            newest.Writer.TryComplete();
            try
            {
                await forwarder.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Stopped while handing over a frame; it was disposed.
            }
            while (newest.Reader.TryRead(out var left)) left.Dispose();
            if (statistics.For(index).State != SourceState.Failed) statistics.SourceStateChanged(index, SourceState.Ended);
            SourceEnded?.Invoke(index, forwarded);
        }
    }

    private static async Task<bool> Wait(TimeSpan delay, CancellationToken stop)
    {
        try
        {
            await Task.Delay(delay, stop).ConfigureAwait(false);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }
}
