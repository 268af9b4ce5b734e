namespace StreamAnalyzer.Pipeline.Sources;

/// <summary>How live sources are opened and kept alive.</summary>
public sealed record LiveSourceOptions
{
    /// <summary>Longest wait for a stream to answer when it is opened.</summary>
    public TimeSpan OpenTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>No frame for this long counts as a drop: the source reconnects.</summary>
    public TimeSpan StallTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>First wait before reconnecting; doubled after each failed attempt up to <see cref="MaxBackoff"/>.</summary>
    public TimeSpan InitialBackoff { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Longest wait between reconnection attempts.</summary>
    public TimeSpan MaxBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Give up after this many failed attempts in a row (0: never give up).</summary>
    public int MaxReconnects { get; init; }
}
