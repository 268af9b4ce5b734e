using OpenCvSharp;

namespace StreamAnalyzer.Pipeline.Rendering;

/// <summary>Blends a [0, 1] map over a BGR frame with the JET colormap, in place.</summary>
public static class HeatmapRenderer
{
    /// <summary>frame = (1 - alpha) frame + alpha JET(map); <paramref name="map"/> is CV_32F of the frame's size.</summary>
    public static void Blend(Mat frame, Mat map, double alpha = 0.5)
    {
        if (map.Size() != frame.Size()) throw new ArgumentException("map and frame sizes differ", nameof(map));
        using var bytes = new Mat();
        map.ConvertTo(bytes, MatType.CV_8UC1, 255);
        using var colored = new Mat();
        Cv2.ApplyColorMap(bytes, colored, ColormapTypes.Jet);
        Cv2.AddWeighted(frame, 1 - alpha, colored, alpha, 0, frame);
    }
}
