using OpenCvSharp;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Sources;

/// <summary>
/// A live source read by OpenCV: a local camera by index (V4L2 on Linux, the platform's backend elsewhere), or a
/// network stream where OpenCV's own backend can open it (e.g. the Windows runtime). Frames carry no timestamp:
/// the capture stage stamps live frames with its own clock.
/// </summary>
public sealed class LiveCaptureSource : IFrameSource
{
    private readonly VideoCapture _capture;

    private LiveCaptureSource(string name, VideoCapture capture, double fallbackFps)
    {
        Name = name;
        _capture = capture;
        Fps = capture.Fps is > 0 and < 1000 ? capture.Fps : fallbackFps;
    }

    /// <summary>Opens camera <paramref name="index"/>.</summary>
    /// <exception cref="UserInputException">No such camera, or it cannot be opened.</exception>
    public static LiveCaptureSource Camera(int index)
    {
        string name = $"camera {index}";
        if (OperatingSystem.IsLinux() && !File.Exists($"/dev/video{index}"))
            throw new UserInputException($"{name}: no such device (/dev/video{index} does not exist)");
        var capture = new VideoCapture(index, OperatingSystem.IsLinux() ? VideoCaptureAPIs.V4L2 : VideoCaptureAPIs.ANY);
        if (capture.IsOpened()) return new LiveCaptureSource(name, capture, 30);
        capture.Dispose();
        throw new UserInputException($"{name}: cannot be opened (in use, or not a capture device)");
    }

    /// <summary>The stream, or null when OpenCV cannot open it (its Linux runtime has no network protocols).</summary>
    public static LiveCaptureSource? TryOpenStream(string url)
    {
        var capture = new VideoCapture();
        try
        {
            if (capture.Open(url, VideoCaptureAPIs.FFMPEG) && capture.IsOpened()) return new LiveCaptureSource(StreamAddress.Redacted(url), capture, 25);
        }
        catch (OpenCVException)
        {
            // Not openable by this build: the caller falls back to ffmpeg.
        }
        capture.Dispose();
        return null;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public bool IsLive => true;

    /// <inheritdoc/>
    public bool IsImage => false;

    /// <inheritdoc/>
    public double Fps { get; }

    /// <inheritdoc/>
    public long? FrameCount => null;

    /// <inheritdoc/>
    public bool TryRead(out Mat image, out double timestampMs)
    {
        timestampMs = 0;
        return CaptureReading.TryRead(_capture, out image);
    }

    /// <inheritdoc/>
    public void Dispose() => _capture.Dispose();
}
