using System.Collections.Concurrent;
using NATS.Client.KeyValueStore;

namespace StreamAnalyzer.Cluster;

/// <summary>
/// A live copy of a key-value bucket, kept by a watch (started again after a failure): reading it costs no request,
/// so a worker's every tick stays cheap and keeps working while the cluster elects a new leader. Entries that expire
/// by the bucket's age limit leave no trace in a watch, so each value carries when it was last seen written: callers
/// treat one unwritten for longer than the lease time as gone.
/// </summary>
public sealed class BucketMirror<T> : IAsyncDisposable where T : class
{
    private readonly INatsKVStore _bucket;
    private readonly CancellationTokenSource _stop = new();
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Task _loop;
    private ConcurrentDictionary<string, Item> _items = new(StringComparer.Ordinal);

    /// <summary>A key's value, its revision and when this copy saw it written.</summary>
    public sealed record Item(T Value, ulong Revision, DateTimeOffset Seen);

    /// <summary>Starts watching <paramref name="bucket"/>.</summary>
    public BucketMirror(INatsKVStore bucket)
    {
        _bucket = bucket;
        _loop = Task.Run(WatchLoopAsync);
    }

    /// <summary>The current values.</summary>
    public IReadOnlyDictionary<string, Item> Items => _items;

    /// <summary>Waits until the bucket's values have been read once.</summary>
    public Task ReadyAsync(CancellationToken cancel) => _ready.Task.WaitAsync(cancel);

    private async Task WatchLoopAsync()
    {
        var cancel = _stop.Token;
        while (!cancel.IsCancellationRequested)
        {
            // Each (re)start replays the current values into a fresh copy, swapped in once complete.
            var fresh = new ConcurrentDictionary<string, Item>(StringComparer.Ordinal);
            bool replayed = false;
            void Swap()
            {
                if (replayed) return;
                replayed = true;
                _items = fresh;
                _ready.TrySetResult();
            }
            try
            {
                var opts = new NatsKVWatchOpts { OnNoData = _ => { Swap(); return ValueTask.FromResult(false); } };
                await foreach (var entry in _bucket.WatchAsync<byte[]>(opts: opts, cancellationToken: cancel))
                {
                    var target = replayed ? _items : fresh;
                    if (entry.Operation == NatsKVOperation.Put && ClusterJson.Read<T>(entry.Value) is { } value)
                        // Replayed values carry their write time (so an old lease is not taken for a fresh one);
                        // new writes are stamped on arrival (no clock of another machine involved).
                        target[entry.Key] = new Item(value, entry.Revision, replayed ? DateTimeOffset.UtcNow : Earliest(entry.Created, DateTimeOffset.UtcNow));
                    else
                        target.TryRemove(entry.Key, out _);
                    if (entry.Delta == 0) Swap();
                }
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Out of reach or a leader change: the last copy stays in use until the watch is back.
            }
            try
            {
                await Task.Delay(TimeSpan.FromSeconds(1), cancel);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static DateTimeOffset Earliest(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
