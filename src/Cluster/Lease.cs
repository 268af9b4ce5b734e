using System.Text.Json.Serialization;

namespace StreamAnalyzer.Cluster;

/// <summary>The value of a camera's key in <see cref="ClusterLayout.LeasesBucket"/>: who holds it and since when.</summary>
public sealed record Lease
{
    /// <summary>The worker holding the camera.</summary>
    [JsonPropertyName("worker")] public required string Worker { get; init; }

    /// <summary>When the worker claimed it (UTC).</summary>
    [JsonPropertyName("since")] public DateTimeOffset Since { get; init; }
}
