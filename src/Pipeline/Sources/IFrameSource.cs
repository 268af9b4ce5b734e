using OpenCvSharp;

namespace StreamAnalyzer.Pipeline.Sources;

/// <summary>Something frames are read from: a video file, an image, a camera, a network stream.</summary>
public interface IFrameSource : IDisposable
{
    /// <summary>What the user named (a path or URL).</summary>
    string Name { get; }

    /// <summary>Live sources favour latency (newest frame wins); files are read losslessly.</summary>
    bool IsLive { get; }

    /// <summary>Nominal frames per second (0 when unknown, e.g. an image).</summary>
    double Fps { get; }

    /// <summary>Frames in the source when known.</summary>
    long? FrameCount { get; }

    /// <summary>True for a single still image.</summary>
    bool IsImage { get; }

    /// <summary>
    /// Reads the next frame (blocking). Returns false at the end of the stream. The caller owns the returned Mat.
    /// </summary>
    bool TryRead(out Mat image, out double timestampMs);
}
