using NATS.Client.JetStream.Models;
using StreamAnalyzer.Cluster;

namespace StreamAnalyzer.Cli.Tests.Cluster;

/// <summary>
/// Reads the cluster's state in-process, for polling (a child process per look would take seconds on a loaded machine):
/// who holds which camera, and how many records each camera has in the results stream.
/// </summary>
public sealed class ClusterProbe(string url, TimeSpan leaseTime) : IAsyncDisposable
{
    private ClusterConnection? _connection;

    private ClusterConnection Connection => _connection ??= ClusterConnection.ConnectAsync(new ClusterOptions(url)).GetAwaiter().GetResult();

    /// <summary>Camera → worker holding its lease.</summary>
    public Dictionary<string, string> Leases()
    {
        var leases = new LeaseTable(Connection.LeasesAsync(leaseTime).AsTask().GetAwaiter().GetResult(), "probe");
        return leases.ReadAllAsync().GetAwaiter().GetResult().ToDictionary(kv => kv.Key, kv => kv.Value.Lease.Worker);
    }

    /// <summary>Camera → records stored (the stream's per-subject counts).</summary>
    public Dictionary<string, int> Counts()
    {
        Connection.ResultsAsync().AsTask().GetAwaiter().GetResult(); // made on first use, as the workers do
        var stream = Connection.JetStream.GetStreamAsync(ClusterLayout.ResultsStream, new StreamInfoRequest { SubjectsFilter = ClusterLayout.ResultsPrefix + ".>" })
            .AsTask().GetAwaiter().GetResult();
        return (stream.Info.State.Subjects ?? new Dictionary<string, long>())
            .ToDictionary(kv => kv.Key[(ClusterLayout.ResultsPrefix.Length + 1)..], kv => (int)kv.Value);
    }

    /// <summary>The server that leads the lease bucket's stream (the one whose loss lapses every lease together).</summary>
    public string LeaseLeader()
    {
        Connection.LeasesAsync(leaseTime).AsTask().GetAwaiter().GetResult();
        var stream = Connection.JetStream.GetStreamAsync("KV_" + ClusterLayout.LeasesBucket).AsTask().GetAwaiter().GetResult();
        return stream.Info.Cluster?.Leader ?? throw new InvalidOperationException("the lease bucket has no leader");
    }

    public async ValueTask DisposeAsync()
    {
        if (_connection is not null) await _connection.DisposeAsync();
    }
}
