using System.Text.Json.Serialization;

namespace StreamAnalyzer.Cluster;

/// <summary>One camera on a worker.</summary>
public sealed record CameraReport
{
    /// <summary>The camera.</summary>
    [JsonPropertyName("camera")] public required string Camera { get; init; }

    /// <summary>starting, running, reconnecting, finished (a file that ended) or failed.</summary>
    [JsonPropertyName("state")] public required string State { get; init; }

    /// <summary>Why it failed, or what its source last reported.</summary>
    [JsonPropertyName("error"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] public string? Error { get; init; }

    /// <summary>Frames analysed per second, recently.</summary>
    [JsonPropertyName("fps")] public double Fps { get; init; }

    /// <summary>Frames analysed since the worker took the camera.</summary>
    [JsonPropertyName("frames")] public long Frames { get; init; }

    /// <summary>Live frames dropped (the analysis was behind the camera).</summary>
    [JsonPropertyName("dropped")] public long Dropped { get; init; }

    /// <summary>Records published to the results stream.</summary>
    [JsonPropertyName("published")] public long Published { get; init; }

    /// <summary>Records waiting to be published (NATS out of reach).</summary>
    [JsonPropertyName("pending")] public long Pending { get; init; }

    /// <summary>The frame number it started from (where the camera's results had stopped).</summary>
    [JsonPropertyName("first_frame")] public long FirstFrame { get; init; }

    /// <summary>When the worker took the camera (UTC).</summary>
    [JsonPropertyName("since")] public DateTimeOffset Since { get; init; }
}
