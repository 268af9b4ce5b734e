using NATS.Client.KeyValueStore;

namespace StreamAnalyzer.Cluster;

/// <summary>Reads a whole bucket at once: the current value of every key.</summary>
public static class KeyValueSnapshot
{
    /// <summary>Each live key's value and entry (deleted and expired keys left out).</summary>
    public static async Task<Dictionary<string, (T Value, NatsKVEntry<byte[]> Entry)>> ReadAsync<T>(INatsKVStore bucket, CancellationToken cancel = default) where T : class
    {
        var values = new Dictionary<string, (T, NatsKVEntry<byte[]>)>(StringComparer.Ordinal);
        // A watch that replays the current values and stops at the last one (or at once on an empty bucket).
        await foreach (var entry in bucket.WatchAsync<byte[]>(opts: new NatsKVWatchOpts { OnNoData = _ => ValueTask.FromResult(true) }, cancellationToken: cancel))
        {
            if (entry.Operation == NatsKVOperation.Put && ClusterJson.Read<T>(entry.Value) is { } value) values[entry.Key] = (value, entry);
            else values.Remove(entry.Key);
            if (entry.Delta == 0) break;
        }
        return values;
    }
}
