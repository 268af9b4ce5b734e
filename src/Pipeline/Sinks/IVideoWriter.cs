using OpenCvSharp;

namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary>Writes BGR frames to a video file. Disposing finishes the file so that it plays.</summary>
public interface IVideoWriter : IDisposable
{
    /// <summary>The file being written.</summary>
    string Path { get; }

    /// <summary>Frames written (including repeats that keep the timeline).</summary>
    long FramesWritten { get; }

    /// <summary>Writes one frame shown at <paramref name="timestampMs"/> (source time).</summary>
    void Write(Mat frame, double timestampMs);
}
