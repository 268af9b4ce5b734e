using OpenCvSharp;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Sources;

/// <summary>A local camera by index through OpenCV (V4L2 on Linux, the platform's backend elsewhere).</summary>
public sealed class CameraSource : IFrameSource
{
    private readonly VideoCapture _capture;

    /// <summary>Opens camera <paramref name="index"/>.</summary>
    /// <exception cref="UserInputException">No such camera, or it cannot be opened.</exception>
    public CameraSource(int index)
    {
        Name = $"camera {index}";
        if (OperatingSystem.IsLinux() && !File.Exists($"/dev/video{index}"))
            throw new UserInputException($"{Name}: no such device (/dev/video{index} does not exist)");
        _capture = new VideoCapture(index, OperatingSystem.IsLinux() ? VideoCaptureAPIs.V4L2 : VideoCaptureAPIs.ANY);
        if (!_capture.IsOpened())
        {
            _capture.Dispose();
            throw new UserInputException($"{Name}: cannot be opened (in use, or not a capture device)");
        }
        Fps = _capture.Fps is > 0 and < 1000 ? _capture.Fps : 30;
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
