using OpenCvSharp;

namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary>MPEG-4 Part 2 (mp4v) MP4 through OpenCV: the fallback where no ffmpeg is installed (plays in VLC/ffplay, not in most browsers).</summary>
public sealed class OpenCvVideoWriter : IVideoWriter
{
    private readonly VideoWriter _writer;
    private readonly VideoTimeline _timeline;

    /// <summary>Opens <paramref name="path"/> for writing.</summary>
    public OpenCvVideoWriter(string path, int width, int height, double fps)
    {
        Path = path;
        _timeline = new VideoTimeline(fps);
        _writer = new VideoWriter(path, FourCC.MP4V, fps, new Size(width, height));
        if (!_writer.IsOpened())
        {
            _writer.Dispose();
            throw new IOException($"{path}: OpenCV cannot write this file");
        }
    }

    /// <inheritdoc/>
    public string Path { get; }

    /// <inheritdoc/>
    public long FramesWritten { get; private set; }

    /// <inheritdoc/>
    public void Write(Mat frame, double timestampMs)
    {
        int copies = _timeline.CopiesFor(timestampMs);
        for (int i = 0; i < copies; i++) _writer.Write(frame);
        if (copies > 0 && !_writer.IsOpened()) throw new IOException($"{Path}: OpenCV stopped writing this file");
        FramesWritten += copies;
    }

    /// <inheritdoc/>
    public void Dispose() => _writer.Dispose();
}
