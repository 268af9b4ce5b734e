namespace StreamAnalyzer.Cluster;

/// <summary>The cluster at one moment: the cameras, who holds each, and what every live worker reported.</summary>
/// <param name="Cameras">Every camera.</param>
/// <param name="Leases">Held cameras: the worker, since when, and the last renewal.</param>
/// <param name="Workers">Every live worker's last report.</param>
/// <param name="Taken">When this was read (UTC).</param>
public sealed record ClusterSnapshot(
    IReadOnlyDictionary<string, CameraSpec> Cameras,
    IReadOnlyDictionary<string, (Lease Lease, DateTimeOffset Renewed)> Leases,
    IReadOnlyList<WorkerReport> Workers,
    DateTimeOffset Taken)
{
    /// <summary>Reads the three buckets.</summary>
    public static async Task<ClusterSnapshot> ReadAsync(ClusterConnection cluster, TimeSpan leaseTime, CancellationToken cancel = default)
    {
        var cameras = await new CameraRegistry(await cluster.CamerasAsync(cancel)).ListAsync(cancel);
        var leases = await new LeaseTable(await cluster.LeasesAsync(leaseTime, cancel), "").ReadAllAsync(cancel);
        var workers = await KeyValueSnapshot.ReadAsync<WorkerReport>(await cluster.WorkersAsync(leaseTime, cancel), cancel);
        return new ClusterSnapshot(cameras.ToDictionary(kv => kv.Key, kv => kv.Value.Spec), leases,
            workers.Values.Select(w => w.Value).OrderBy(w => w.Worker, StringComparer.Ordinal).ToArray(), DateTimeOffset.UtcNow);
    }

    /// <summary>Cameras nobody holds.</summary>
    public IEnumerable<string> Unassigned => Cameras.Keys.Where(c => !Leases.ContainsKey(c)).Order(StringComparer.Ordinal);
}
