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
    public static async Task<ClusterSnapshot> ReadAsync(ClusterConnection cluster, CancellationToken cancel = default) =>
        await ClusterConnection.RetryAsync(() => new ValueTask<ClusterSnapshot>(ReadOnceAsync(cluster, cancel)), "the cluster's buckets", cancel);

    private static async Task<ClusterSnapshot> ReadOnceAsync(ClusterConnection cluster, CancellationToken cancel)
    {
        var cameras = await new CameraRegistry(await cluster.CamerasAsync(cancel)).ListAsync(cancel);
        // No lease or worker bucket yet (no worker has joined): nothing held, nobody there.
        var leaseBucket = await cluster.ExistingBucketAsync(ClusterLayout.LeasesBucket, cancel);
        var leases = leaseBucket is null ? [] : await new LeaseTable(leaseBucket, "").ReadAllAsync(cancel);
        var workerBucket = await cluster.ExistingBucketAsync(ClusterLayout.WorkersBucket, cancel);
        var workers = workerBucket is null ? [] : await KeyValueSnapshot.ReadAsync<WorkerReport>(workerBucket, cancel);
        return new ClusterSnapshot(cameras.ToDictionary(kv => kv.Key, kv => kv.Value.Spec), leases,
            workers.Values.Select(w => w.Value).OrderBy(w => w.Worker, StringComparer.Ordinal).ToArray(), DateTimeOffset.UtcNow);
    }

    /// <summary>Cameras nobody holds.</summary>
    public IEnumerable<string> Unassigned => Cameras.Keys.Where(c => !Leases.ContainsKey(c)).Order(StringComparer.Ordinal);
}
