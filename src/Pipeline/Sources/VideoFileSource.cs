using OpenCvSharp;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Sources;

/// <summary>A local video file decoded by OpenCV (its bundled FFmpeg), read frame by frame with timestamps.</summary>
public sealed class VideoFileSource : IFrameSource
{
    private readonly VideoCapture _capture;
    private long _read;

    /// <summary>Opens <paramref name="path"/>.</summary>
    /// <exception cref="UserInputException">Missing or unreadable file.</exception>
    public VideoFileSource(string path) : this(path, null)
    {
    }

    /// <summary>Opens <paramref name="path"/>, with what ffprobe already said of it (its video stream, or null and why).</summary>
    internal VideoFileSource(string path, (VideoStreamInfo? Stream, string Error)? probed)
    {
        if (!File.Exists(path)) throw new UserInputException($"{path}: no such file");
        Name = path;
        var (stream, error) = probed ?? (null, "");
        bool asked = probed is not null;
        VideoStreamInfo? Probe(out string why)
        {
            if (!asked)
            {
                stream = Ffmpeg.Probe(path, TimeSpan.FromSeconds(10), out error);
                asked = true;
            }
            why = error;
            return stream;
        }
        _capture = new VideoCapture(path, VideoCaptureAPIs.FFMPEG);
        if (!_capture.IsOpened())
        {
            _capture.Dispose();
            // ffprobe tells a file without video (music, a voice memo) from a damaged one, where it is installed.
            if (Probe(out string why) is null && why == Ffmpeg.NoVideoStream)
                throw new UserInputException($"{path}: holds no video stream (audio only?)");
            throw new UserInputException($"{path}: cannot open as a video (damaged, truncated before its index, or an unsupported format)");
        }
        // The rate frames are laid on: ffprobe's base rate where it can tell (OpenCV reports the average, which is
        // lower for a variable-rate file that skips frames), else OpenCV's.
        double opencvFps = _capture.Fps is > 0 and < 1000 ? _capture.Fps : 0;
        Fps = Probe(out _) is { TimelineFps: > 0 } probe ? probe.TimelineFps : opencvFps;
        FrameCount = _capture.FrameCount > 0 ? _capture.FrameCount : null;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public bool IsLive => false;

    /// <inheritdoc/>
    public bool IsImage => false;

    /// <inheritdoc/>
    public double Fps { get; }

    /// <inheritdoc/>
    public long? FrameCount { get; }

    /// <inheritdoc/>
    public bool TryRead(out Mat image, out double timestampMs)
    {
        if (!CaptureReading.TryRead(_capture, out image))
        {
            timestampMs = 0;
            return false;
        }
        // The decoder's presentation time; a constant-rate estimate where the container gives none.
        double pos = _capture.Get(VideoCaptureProperties.PosMsec);
        timestampMs = pos > 0 || _read == 0 ? pos : (Fps > 0 ? _read * 1000.0 / Fps : _read);
        _read++;
        return true;
    }

    /// <inheritdoc/>
    public void Dispose() => _capture.Dispose();
}
