using StreamAnalyzer.Pipeline.Application;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Sources;
using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.Cluster;

/// <summary>
/// One camera on a worker: its pipeline (an <see cref="AnalysisSession"/> with local JSON lines and, if asked, a
/// recording) and its <see cref="ResultPublisher"/>, from the claim of its lease until it is stopped.
/// </summary>
public sealed class CameraRun : IAsyncDisposable
{
    private readonly CancellationTokenSource _stop = new(), _abort = new();
    private readonly Action<string>? _log;
    private readonly Task _run;
    private AnalysisSession? _session;
    private volatile string _state = "starting";
    private volatile string? _error;
    private readonly StoredResult? _last;

    /// <summary>Starts <paramref name="camera"/> (the model loads in the background).</summary>
    /// <param name="camera">The camera's settings and their revision.</param>
    /// <param name="leaseRevision">The revision of the lease the worker holds.</param>
    /// <param name="firstFrame">The number its first frame gets (one past the last stored result).</param>
    /// <param name="last">The camera's last stored result, whose time a live source's timeline goes on from (null: none).</param>
    /// <param name="publisher">Where its records go.</param>
    /// <param name="outputFolder">Where its local outputs go.</param>
    /// <param name="log">Progress lines.</param>
    public CameraRun(CameraRegistry.Entry camera, ulong leaseRevision, long firstFrame, StoredResult? last, ResultPublisher publisher, string outputFolder, Action<string>? log)
    {
        Camera = camera;
        LeaseRevision = leaseRevision;
        FirstFrame = firstFrame;
        _last = last;
        Publisher = publisher;
        _log = log;
        Since = DateTimeOffset.UtcNow;
        _run = Task.Run(() => RunAsync(outputFolder));
    }

    /// <summary>The camera and the revision of its settings.</summary>
    public CameraRegistry.Entry Camera { get; }

    /// <summary>The camera's name.</summary>
    public string Name => Camera.Spec.Name;

    /// <summary>The lease's current revision (changes at each renewal).</summary>
    public ulong LeaseRevision { get; set; }

    /// <summary>Held while the lease is renewed or released, so that a release never races a renewal.</summary>
    public SemaphoreSlim LeaseLock { get; } = new(1, 1);

    private Task? _stopping;

    /// <summary>The stop under way (the camera is handed over once it completes), or null.</summary>
    public Task? Stopping => Volatile.Read(ref _stopping);

    /// <summary>
    /// Starts <paramref name="stop"/> unless a stop has begun: the renewal loop and the tick loop may both decide to
    /// stop a camera at once, and only one stop may run.
    /// </summary>
    /// <returns>The stop started, or null when one had begun.</returns>
    public Task? BeginStop(Func<Task> stop)
    {
        var start = new Task<Task>(stop);
        var stopping = start.Unwrap();
        if (Interlocked.CompareExchange(ref _stopping, stopping, null) is not null) return null;
        start.Start(TaskScheduler.Default);
        return stopping;
    }

    /// <summary>True once its lease is no longer ours to renew: it went to another worker, or it was released (or left to expire) at a stop.</summary>
    public bool LeaseLost { get; set; }

    /// <summary>True when the run failed.</summary>
    public bool Failed => _state == "failed";

    /// <summary>True when its source ended (a file read to its end).</summary>
    public bool Finished => _state == "finished";

    /// <summary>When the worker took the camera.</summary>
    public DateTimeOffset Since { get; }

    /// <summary>The number of its first frame.</summary>
    public long FirstFrame { get; }

    /// <summary>Its results publisher.</summary>
    public ResultPublisher Publisher { get; }

    /// <summary>True once the pipeline has ended (a file that finished, a failure).</summary>
    public bool Ended => _run.IsCompleted;

    private async Task RunAsync(string outputFolder)
    {
        try
        {
            var plan = Camera.Spec.ToPlan(FirstFrame, outputFolder, _last);
            Directory.CreateDirectory(Path.GetDirectoryName(plan.SaveJson!)!);
            // Stream messages already start with the source's name, which is the camera's.
            _session = AnalysisSession.Open(plan, line => _log?.Invoke(line.StartsWith($"{Name}: ", StringComparison.Ordinal) ? line : $"{Name}: {line}"));
            _session.Add(Publisher);
            _state = "running";
            _log?.Invoke($"{Name}: started from frame {FirstFrame} ({StreamAddress.Redacted(Camera.Spec.Source)}); local results in {plan.SaveJson} from its first frame");
            await _session.RunAsync(_stop.Token, _abort.Token);
            // The JSON lines file is made with the first result: a file camera taken up again after its last frame has none.
            long frames = _session.Statistics.Processed;
            _log?.Invoke(frames > 0
                ? $"{Name}: {frames} frame(s) analysed; local results in {plan.SaveJson}"
                : $"{Name}: no frames from frame {FirstFrame} on; no local results written");
            if (!_session.Statistics.SourceErrors.IsEmpty)
            {
                _error = string.Join("; ", _session.Statistics.SourceErrors);
                _state = "failed";
                _log?.Invoke($"{Name}: {_error}");
            }
            else
            {
                _state = _stop.IsCancellationRequested ? "stopped" : "finished";
                // A finished file camera keeps its lease (so that no worker takes it up again to find no frames) and its
                // statistics, but not its model: it no longer counts against the worker's share, so nothing else would
                // bound how many stay loaded.
                if (_state == "finished") ReleaseSession();
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            _state = "stopped";
        }
        catch (Exception e)
        {
            // Any failure (a bad checkpoint path on this worker, a pipeline error) leaves the camera failed, not dead:
            // the worker tries it again.
            _error = e.Message;
            _state = "failed";
            Publisher.Dispose();
            _log?.Invoke($"{Name}: {(_session is null ? "cannot start" : "stopped by an error")}: {e.Message}");
        }
    }

    private int _sessionReleased;

    // Disposes the session's model and outputs once; its statistics stay readable for the reports.
    private void ReleaseSession()
    {
        if (_session is not null && Interlocked.Exchange(ref _sessionReleased, 1) == 0) _session.Dispose();
    }

    /// <summary>What the worker reports about it.</summary>
    public CameraReport Report()
    {
        string state = Stopping is not null && !Ended ? "stopping" : _state;
        var stats = _session?.Statistics;
        var source = stats is not null && stats.Sources.TryGetValue(0, out var counters) ? counters : null;
        if (state == "running" && source is not null)
            state = source.State switch { SourceState.Reconnecting => "reconnecting", SourceState.Connecting => "connecting", _ => state };
        return new CameraReport
        {
            Camera = Name, State = state, Error = _error ?? (state == "reconnecting" ? source?.LastError : null),
            Fps = state is "running" or "reconnecting" or "connecting" ? Math.Round(source?.RecentFps ?? 0, 2) : 0, Frames = stats?.Processed ?? 0, Dropped = stats?.Dropped ?? 0,
            Published = Publisher.Published, Pending = Publisher.Pending, FirstFrame = FirstFrame, Since = Since,
        };
    }

    /// <summary>
    /// Stops the camera: frames already read get two seconds, the pipeline finishes its local outputs, then what is
    /// queued is published (up to
    /// <paramref name="drain"/>), unless <paramref name="abandonResults"/> (another worker holds the camera now).
    /// </summary>
    public async Task StopAsync(bool abandonResults, TimeSpan drain)
    {
        if (abandonResults) await Publisher.AbandonAsync();
        // Frames already read get two seconds to reach the outputs; then the run stops at once (still finishing every
        // output). A camera handed over loses nothing by it: the next holder starts after the last stored record.
        if (!_stop.IsCancellationRequested) await _stop.CancelAsync();
        if (await Task.WhenAny(_run, Task.Delay(TimeSpan.FromSeconds(2))) != _run)
        {
            if (!_abort.IsCancellationRequested) await _abort.CancelAsync();
            await _run;
        }
        if (abandonResults)
        {
            await Publisher.AbandonAsync();
        }
        else if (!await Publisher.DrainAsync(drain))
        {
            _log?.Invoke($"{Name}: {Publisher.Pending} record(s) not published within {drain.TotalSeconds:0.#} s, dropped (the local JSON lines keep them)");
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await StopAsync(abandonResults: false, TimeSpan.FromSeconds(5));
        ReleaseSession();
        _stop.Dispose();
        _abort.Dispose();
        // LeaseLock is not disposed: it never makes a wait handle, so there is nothing to free, and the renewal loop
        // may still be releasing it after this run was stopped (which made Release throw).
    }
}
