using System.Text.Json.Serialization;

namespace StreamAnalyzer.Cluster;

/// <summary>What a worker says about itself every second (key = worker in <see cref="ClusterLayout.WorkersBucket"/>).</summary>
public sealed record WorkerReport
{
    /// <summary>The worker's name.</summary>
    [JsonPropertyName("worker")] public required string Worker { get; init; }

    /// <summary>Its machine.</summary>
    [JsonPropertyName("host")] public required string Host { get; init; }

    /// <summary>Its process id.</summary>
    [JsonPropertyName("pid")] public int Pid { get; init; }

    /// <summary>Most cameras it takes (0: no limit beyond its fair share).</summary>
    [JsonPropertyName("max_streams")] public int MaxStreams { get; init; }

    /// <summary>When it started (UTC).</summary>
    [JsonPropertyName("started")] public DateTimeOffset Started { get; init; }

    /// <summary>When it wrote this report (UTC).</summary>
    [JsonPropertyName("reported")] public DateTimeOffset Reported { get; init; }

    /// <summary>Its cameras.</summary>
    [JsonPropertyName("cameras")] public IReadOnlyList<CameraReport> Cameras { get; init; } = [];
}
