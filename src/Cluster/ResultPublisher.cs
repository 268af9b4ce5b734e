using System.Text.Json.Nodes;
using System.Threading.Channels;
using NATS.Client.JetStream;
using StreamAnalyzer.Pipeline.Sinks;
using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.Cluster;

/// <summary>
/// Publishes a camera's frame records to the results stream, in order, each with the message id
/// <see cref="ClusterLayout.MessageId"/> so that a copy published twice (a retry, a takeover) is stored once. Records
/// queue while NATS is out of reach (up to <see cref="Capacity"/>, oldest dropped beyond) and go out on reconnection.
/// The sink side (<see cref="Write"/>) never blocks the pipeline.
/// </summary>
public sealed class ResultPublisher : IFrameSink
{
    /// <summary>Records kept while NATS is out of reach.</summary>
    public const int Capacity = 20_000;

    private readonly Channel<(long Frame, byte[] Json)> _queue = Channel.CreateBounded<(long, byte[])>(
        new BoundedChannelOptions(Capacity) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true, SingleWriter = true });
    private readonly INatsJSContext _jetStream;
    private readonly string _camera, _source, _worker, _subject;
    private readonly CancellationTokenSource _abandon = new();
    private readonly Task _loop;
    private long _published, _pending, _failures;

    /// <summary>Starts publishing the records of <paramref name="camera"/> (reading <paramref name="source"/>) as <paramref name="worker"/>.</summary>
    public ResultPublisher(INatsJSContext jetStream, string camera, string source, string worker, Action<string>? log = null)
    {
        _jetStream = jetStream;
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
        if (!_queue.Writer.TryWrite((frame.Frame.Index, System.Text.Encoding.UTF8.GetBytes(record.ToJsonString())))) Interlocked.Decrement(ref _pending);
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
                        var ack = await _jetStream.PublishAsync(_subject, json, opts: new NatsJSPubOpts { MsgId = ClusterLayout.MessageId(_camera, frame) }, cancellationToken: cancel);
                        ack.EnsureSuccess();
                        Interlocked.Increment(ref _published);
                        if (_failures > 0)
                        {
                            Log?.Invoke($"{_camera}: publishing results again ({Pending - 1} waiting)");
                            _failures = 0;
                        }
                        break;
                    }
                    catch (Exception e) when (e is not OperationCanceledException)
                    {
                        if (_failures++ == 0) Log?.Invoke($"{_camera}: cannot publish results ({e.Message}); they wait, and the local JSON lines go on");
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
        if (!done) await AbandonAsync();
        return done;
    }

    /// <summary>Stops publishing at once: queued records are dropped (the camera went to another worker).</summary>
    public async Task AbandonAsync()
    {
        _queue.Writer.TryComplete();
        await _abandon.CancelAsync();
        await _loop;
    }
}
