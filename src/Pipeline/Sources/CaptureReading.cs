using OpenCvSharp;

namespace StreamAnalyzer.Pipeline.Sources;

/// <summary>Reading one frame from an OpenCV capture into a Mat the caller owns.</summary>
internal static class CaptureReading
{
    /// <summary>The next frame, or false (and no Mat) at the end of the stream.</summary>
    public static bool TryRead(VideoCapture capture, out Mat image)
    {
        image = new Mat();
        if (capture.Read(image) && !image.Empty()) return true;
        image.Dispose();
        image = null!;
        return false;
    }
}
