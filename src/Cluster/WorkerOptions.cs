namespace StreamAnalyzer.Cluster;

/// <summary>How a worker takes part in the cluster.</summary>
/// <param name="Name">Its unique name (default: host and process id).</param>
public sealed record WorkerOptions(string Name)
{
    /// <summary>Most cameras it runs at once (0: no limit beyond its fair share).</summary>
    public int MaxStreams { get; init; }

    /// <summary>Where each camera's local JSON lines and recordings go (a folder per camera).</summary>
    public string OutputFolder { get; init; } = Path.Combine("runs", "worker");

    /// <summary>How long a lease lives without renewal: a dead worker's cameras move after this.</summary>
    public TimeSpan LeaseTime { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How often the worker renews, looks for new and removed cameras and reports.</summary>
    public TimeSpan Tick { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a worker holding more than its share waits before handing a camera over.</summary>
    public TimeSpan RebalanceAfter { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Progress lines.</summary>
    public Action<string>? Log { get; init; }
}
