using NATS.Client.KeyValueStore;

namespace StreamAnalyzer.Cluster;

/// <summary>
/// Camera leases in a key-value bucket whose entries expire after the lease time: a worker claims a camera by creating
/// its key (which fails where another holds it), renews it by compare-and-set on the revision it last wrote (which
/// fails once another worker has claimed the expired key), and releases it by deleting its own revision.
/// </summary>
public sealed class LeaseTable(INatsKVStore bucket, string worker)
{
    /// <summary>Claims a free camera; returns the lease's revision, or null where another worker holds it.</summary>
    public async Task<ulong?> TryClaimAsync(string camera, CancellationToken cancel = default)
    {
        var lease = new Lease { Worker = worker, Since = DateTimeOffset.UtcNow };
        var created = await bucket.TryCreateAsync(camera, ClusterJson.Bytes(lease), cancellationToken: cancel);
        return created.Success ? created.Value : null;
    }

    /// <summary>The outcome of a renewal.</summary>
    public enum Renewal
    {
        /// <summary>Renewed.</summary>
        Renewed,

        /// <summary>Another worker holds the camera now.</summary>
        Lost,

        /// <summary>The lease had lapsed (NATS out of reach for a lease time) and nobody had taken it: claimed again.</summary>
        Reclaimed,
    }

    /// <summary>Renews a held lease: its new revision, or <see cref="Renewal.Lost"/> once another worker holds the camera.</summary>
    /// <remarks>
    /// If the lease expired and nobody took it (NATS was out of reach), it is claimed again. Errors other than a lost
    /// compare-and-set (no reply, a leader being elected) are thrown: they say nothing about who holds the camera.
    /// </remarks>
    public async Task<(Renewal Outcome, ulong Revision)> RenewAsync(string camera, ulong revision, DateTimeOffset since, CancellationToken cancel = default)
    {
        var bytes = ClusterJson.Bytes(new Lease { Worker = worker, Since = since });
        var updated = await bucket.TryUpdateAsync(camera, bytes, revision, cancellationToken: cancel);
        if (updated.Success) return (Renewal.Renewed, updated.Value);
        if (updated.Error is not NatsKVWrongLastRevisionException) throw updated.Error;
        var current = await bucket.TryGetEntryAsync<byte[]>(camera, cancellationToken: cancel);
        if (current.Success && ClusterJson.Read<Lease>(current.Value.Value) is { } holder)
        {
            if (holder.Worker != worker) return (Renewal.Lost, 0);
            // Ours, at another revision (a renewal whose reply was lost): take that revision on.
            var again = await bucket.TryUpdateAsync(camera, bytes, current.Value.Revision, cancellationToken: cancel);
            if (again.Success) return (Renewal.Renewed, again.Value);
            if (again.Error is NatsKVWrongLastRevisionException) return (Renewal.Lost, 0);
            throw again.Error;
        }
        if (!current.Success && current.Error is not (NatsKVKeyNotFoundException or NatsKVKeyDeletedException)) throw current.Error;
        var reclaimed = await bucket.TryCreateAsync(camera, bytes, cancellationToken: cancel);
        if (reclaimed.Success) return (Renewal.Reclaimed, reclaimed.Value);
        if (reclaimed.Error is NatsKVCreateException or NatsKVWrongLastRevisionException) return (Renewal.Lost, 0);
        throw reclaimed.Error;
    }

    /// <summary>Releases a held lease at once (a no-op where it is no longer ours).</summary>
    public async Task ReleaseAsync(string camera, ulong revision, CancellationToken cancel = default) =>
        await bucket.TryDeleteAsync(camera, new NatsKVDeleteOpts { Revision = revision }, cancel);

    /// <summary>Every held lease by camera, with its entry's last write (the last renewal).</summary>
    public async Task<Dictionary<string, (Lease Lease, DateTimeOffset Renewed)>> ReadAllAsync(CancellationToken cancel = default)
    {
        var values = await KeyValueSnapshot.ReadAsync<Lease>(bucket, cancel);
        return values.ToDictionary(kv => kv.Key, kv => (kv.Value.Value, kv.Value.Entry.Created));
    }
}
