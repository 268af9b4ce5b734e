namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary>
/// Keeps a constant-rate output on the source's timeline: each frame is written once, and repeated to fill a gap
/// in the timestamps (a dropped or late frame), so playback time matches source time.
/// </summary>
internal sealed class VideoTimeline(double fps)
{
    private double? _start;
    private long _written;

    /// <summary>How many times to write the frame at <paramref name="timestampMs"/> (at least once).</summary>
    public int CopiesFor(double timestampMs)
    {
        _start ??= timestampMs;
        long due = (long)Math.Round((timestampMs - _start.Value) * fps / 1000.0);
        int copies = (int)Math.Clamp(due - _written + 1, 1, (long)Math.Max(1, fps * 3600)); // gaps up to an hour keep real time
        _written += copies;
        return copies;
    }
}
