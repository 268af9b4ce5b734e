using System.Diagnostics;
using OpenCvSharp;

namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>
/// One captured picture and where it came from. A frame owns its <see cref="Image"/>: handing a frame to a channel
/// hands over ownership, and the stage that finishes with it (the sinks, or whoever drops it) disposes it.
/// </summary>
public sealed class Frame : IDisposable
{
    private int _disposed;

    /// <summary>Takes ownership of <paramref name="image"/>.</summary>
    public Frame(Mat image, int sourceIndex, long index, double timestampMs, bool isLive = false)
    {
        IsLive = isLive;
        Image = image;
        SourceIndex = sourceIndex;
        Index = index;
        TimestampMs = timestampMs;
        CapturedAt = Stopwatch.GetTimestamp();
    }

    /// <summary>The BGR pixels (rendering draws on them in place).</summary>
    public Mat Image { get; private set; }

    // Rendering may replace the picture (the side-by-side view is wider); the frame owns and disposes the new one.
    internal void ReplaceImage(Mat image)
    {
        var old = Image;
        Image = image;
        old.Dispose();
    }

    /// <summary>Index of the source in the run's source list.</summary>
    public int SourceIndex { get; }

    /// <summary>Index of the frame in its source (before <c>--vid-stride</c> skipping).</summary>
    public long Index { get; }

    /// <summary>From a live source: may be dropped in favour of newer frames.</summary>
    public bool IsLive { get; }

    /// <summary>Presentation time in the source, in milliseconds (live sources: since the source was first opened).</summary>
    public double TimestampMs { get; }

    /// <summary>When it was captured (<see cref="Stopwatch"/> ticks): latency is measured from here.</summary>
    public long CapturedAt { get; }

    /// <summary>Milliseconds since capture.</summary>
    public double AgeMs => Stopwatch.GetElapsedTime(CapturedAt).TotalMilliseconds;

    /// <inheritdoc/>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0) Image.Dispose();
    }
}
