namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary>
/// Places frames on a constant-rate output by their timestamps, so playback time matches source time: a frame is
/// repeated to fill a gap (a dropped or late frame, a variable-rate source), and one that would land on a slot
/// already written (frames closer together than the output rate) is left out rather than pushing the rest later.
/// </summary>
internal sealed class VideoTimeline(double fps)
{
    private double? _start;
    private long _written;

    /// <summary>How many times to write the frame at <paramref name="timestampMs"/> (0 when its slot is taken).</summary>
    public int CopiesFor(double timestampMs)
    {
        _start ??= timestampMs;
        long slot = (long)Math.Round((timestampMs - _start.Value) * fps / 1000.0);
        if (slot < _written) return 0;
        int copies = (int)Math.Min(slot - _written + 1, (long)Math.Max(1, fps * 3600)); // gaps up to an hour keep real time
        _written += copies;
        return copies;
    }
}
