using OpenCvSharp;

namespace StreamAnalyzer.Pipeline.Sources;

/// <summary>A network stream opened by OpenCV's own backend (where its build can open URLs, e.g. the Windows runtime).</summary>
public sealed class OpenCvStreamSource : IFrameSource
{
    private readonly VideoCapture _capture;

    private OpenCvStreamSource(string url, VideoCapture capture)
    {
        Name = url;
        _capture = capture;
        Fps = capture.Fps is > 0 and < 1000 ? capture.Fps : 25;
    }

    /// <summary>The stream, or null when OpenCV cannot open it (its Linux runtime has no network protocols).</summary>
    public static OpenCvStreamSource? TryOpen(string url)
    {
        var capture = new VideoCapture();
        try
        {
            if (capture.Open(url, VideoCaptureAPIs.FFMPEG) && capture.IsOpened()) return new OpenCvStreamSource(url, capture);
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
        timestampMs = 0; // live: the capture stage stamps frames with its own clock
        return CaptureReading.TryRead(_capture, out image);
    }

    /// <inheritdoc/>
    public void Dispose() => _capture.Dispose();
}
