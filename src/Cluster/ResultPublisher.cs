using System.Text.Json.Nodes;
using System.Threading.Channels;
using NATS.Client.JetStream;
using StreamAnalyzer.Pipeline.Sinks;
using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.Cluster;

/// <summary>
/// Publishes a camera's frame records to the results stream, in order, each with the message id
/// <see cref="ClusterLayout.MessageId"/> so that a copy published twice (a retry whose first try arrived) is stored once,
/// and each expecting the camera's subject to end where this publisher last wrote: once another worker has published
/// for the camera, this one stops (<see cref="Superseded"/>) instead of mixing its frames in. Records queue while NATS
/// is out of reach (up to <see cref="Capacity"/>, oldest dropped beyond) and go out on reconnection. The sink side
/// (<see cref="Write"/>) never blocks the pipeline.
/// </summary>
public sealed class ResultPublisher : IFrameSink
{
    /// <summary>Records kept while NATS is out of reach.</summary>
    public const int Capacity = 20_000;

    // JetStream's error for a publish whose expected last subject sequence is not the subject's last.
    private const int WrongLastSequence = 10071;

    private readonly Channel<(long Frame, byte[] Json)> _queue;
    private readonly INatsJSContext _jetStream;
    private readonly INatsJSStream _results;
    private readonly string _camera, _source, _worker, _subject;
    private readonly CancellationTokenSource _abandon = new();
    private readonly Task _loop;
    private long _published, _pending, _dropped, _failures;
    private ulong _lastSequence;

    /// <summary>Starts publishing the records of <paramref name="camera"/> (reading <paramref name="source"/>) as <paramref name="worker"/>.</summary>
    /// <param name="jetStream">JetStream.</param>
    /// <param name="results">The results stream.</param>
    /// <param name="camera">The camera.</param>
    /// <param name="source">Its source, as the records name it.</param>
    /// <param name="worker">This worker.</param>
    /// <param name="lastSequence">The stream sequence of the camera's last stored record (0: none).</param>
    /// <param name="log">Progress lines.</param>
    public ResultPublisher(INatsJSContext jetStream, INatsJSStream results, string camera, string source, string worker, ulong lastSequence, Action<string>? log = null)
    {
        _queue = Channel.CreateBounded<(long, byte[])>(
            new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = true },
            _ =>
            {
                Interlocked.Decrement(ref _pending);
                Interlocked.Increment(ref _dropped);
            });
        _lastSequence = lastSequence;
        _jetStream = jetStream;
        _results = results;
        _camera = camera;
        _source = source;
        _worker = worker;
        _subject = ClusterLayout.ResultsSubject(camera);
        Log = log;
        _loop = Task.Run(PublishLoopAsync);
    }

    private Action<string>? Log { get; }

    /// <summary>Records stored in the stream.</summary>
    public long Published => Interlocked.Read(ref _published);

    /// <summary>Records waiting.</summary>
    public long Pending => Interlocked.Read(ref _pending);

    /// <summary>Records dropped from a full queue (NATS out of reach for long); the local JSON lines keep them.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>True once another worker has published for this camera: this publisher stopped and dropped its queue.</summary>
    public bool Superseded { get; private set; }

    /// <summary>The record of a frame as published: the JSON lines schema plus <c>camera</c> and <c>worker</c>.</summary>
    public static JsonObject Record(FrameRecord record, string camera, string worker)
    {
        var json = System.Text.Json.JsonSerializer.SerializeToNode(record)!.AsObject();
        json.Insert(0, "camera", camera);
        json.Insert(1, "worker", worker);
        return json;
    }

    /// <inheritdoc/>
    public void Write(AnalyzedFrame frame)
    {
        var record = Record(FrameRecord.From(_source, frame), _camera, _worker);
        Interlocked.Increment(ref _pending);
        if (Superseded || !_queue.Writer.TryWrite((frame.Frame.Index, System.Text.Encoding.UTF8.GetBytes(record.ToJsonString())))) Interlocked.Decrement(ref _pending);
    }

    /// <inheritdoc/>
    public void CompleteSource(int source)
    {
    }

    private async Task PublishLoopAsync()
    {
        var cancel = _abandon.Token;
        try
        {
            await foreach (var (frame, json) in _queue.Reader.ReadAllAsync(cancel))
            {
                // The same record until it is stored (or the camera is handed over): order is kept, and a retry whose
                // first try did arrive is dropped by the stream as a duplicate.
                for (int attempt = 0; ; attempt++)
                {
                    try
                    {
                        var opts = new NatsJSPubOpts { MsgId = ClusterLayout.MessageId(_camera, frame), ExpectedLastSubjectSequence = _lastSequence };
                        // Each try has its own deadline: a request caught by a server restart must not wait for ever.
                        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                        deadline.CancelAfter(TimeSpan.FromSeconds(10));
                        var ack = await _jetStream.PublishAsync(_subject, json, opts: opts, cancellationToken: deadline.Token);
                        // Not EnsureSuccess: it throws for a duplicate, which here means the record is stored.
                        if (ack.Error is { } error) throw new NatsJSApiException(error);
                        _lastSequence = Math.Max(_lastSequence, ack.Seq);
                        if (!ack.Duplicate) Interlocked.Increment(ref _published);
                        if (_failures > 0)
                        {
                            Log?.Invoke($"{_camera}: publishing results again ({Pending - 1} waiting)");
                            _failures = 0;
                        }
                        break;
                    }
                    catch (NatsJSApiException e) when (e.Error.ErrCode == WrongLastSequence)
                    {
                        // The subject does not end where this publisher last wrote. If its last record is still ours (a
                        // server lost what it had not written to disk when it crashed), go on after it; otherwise another
                        // worker has published for this camera since (it holds the lease now): stop here.
                        // Nothing stored for the camera: nobody else has published it either.
                        var last = await StoredResult.LastAsync(_results, _camera, cancel);
                        if (last is null || last.Worker == _worker)
                        {
                            _lastSequence = last?.Sequence ?? 0;
                            continue;
                        }
                        Superseded = true;
                        Log?.Invoke($"{_camera}: another worker publishes this camera now; {Pending} queued record(s) dropped (the local JSON lines keep them)");
                        _queue.Writer.TryComplete();
                        while (_queue.Reader.TryRead(out _)) Interlocked.Decrement(ref _pending);
                        Interlocked.Decrement(ref _pending);
                        return;
                    }
                    catch (Exception e) when (!cancel.IsCancellationRequested)
                    {
                        if (_failures++ == 0) Log?.Invoke($"{_camera}: cannot publish results ({e.Message}); they wait, and the local JSON lines go on");
                        else if (_failures % 10 == 0) Log?.Invoke($"{_camera}: still cannot publish results ({e.GetType().Name}: {e.Message}); {Pending} waiting");
                        await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 100 * (attempt + 1))), cancel);
                    }
                }
                Interlocked.Decrement(ref _pending);
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // Abandoned: another worker holds the camera now and numbers its frames from what was stored.
        }
    }

    /// <summary>No more records: what is queued is still published (see <see cref="DrainAsync"/>).</summary>
    public void Dispose() => _queue.Writer.TryComplete();

    /// <summary>Waits until every queued record is stored, or <paramref name="timeout"/> passes (then the rest is dropped).</summary>
    public async Task<bool> DrainAsync(TimeSpan timeout)
    {
        _queue.Writer.TryComplete();
        bool done = await Task.WhenAny(_loop, Task.Delay(timeout)) == _loop;
        await AbandonAsync();
        return done;
    }

    /// <summary>Stops publishing at once: queued records are dropped (the camera went to another worker).</summary>
    public async Task AbandonAsync()
    {
        _queue.Writer.TryComplete();
        if (!_abandon.IsCancellationRequested) await _abandon.CancelAsync();
        await _loop;
        _abandon.Dispose();
    }
}
