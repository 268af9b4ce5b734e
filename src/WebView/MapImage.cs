using OpenCvSharp;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Rendering;

namespace StreamAnalyzer.WebView;

/// <summary>The picture of one detection's own map: the map where it is hot over a dimmed grey copy of its frame, with the detection's box.</summary>
public static class MapImage
{
    /// <summary>JPEG of detection <paramref name="detection"/> of <paramref name="maps"/>, or null when it has no map.</summary>
    public static byte[]? Render(ExplainedMaps maps, int detection)
    {
        if ((uint)detection >= (uint)maps.Explanations.Count) return null;
        var explanation = maps.Explanations[detection];
        var g = maps.Geometry;
        using var heat = explanation.Maps.Count == 1 ? FrameMaps.ToFrame(explanation.Maps[0], g)
            : FrameMaps.ToFrame(CamMap.Max(explanation.Maps.ToArray()), g);
        using var canvas = Background(maps.Picture, heat.Size());
        HeatmapRenderer.Blend(canvas, heat, 0.85);
        HeatmapRenderer.DrawScale(canvas);
        var box = explanation.Detection.Box;
        Cv2.Rectangle(canvas, new Point((int)box.X1, (int)box.Y1), new Point((int)box.X2, (int)box.Y2), ClassPalette.For(explanation.Detection.ClassId), 2);
        Cv2.ImEncode(".jpg", canvas, out byte[] jpeg, new ImageEncodingParam(ImwriteFlags.JpegQuality, 85));
        return jpeg;
    }

    private static Mat Background(byte[]? jpeg, Size size)
    {
        var canvas = new Mat(size, MatType.CV_8UC3, Scalar.All(0));
        if (jpeg is null) return canvas;
        using var frame = Cv2.ImDecode(jpeg, ImreadModes.Grayscale);
        if (frame.Empty()) return canvas;
        // The side-by-side view's frames are twice as wide: the scene is their left half.
        bool sideBySide = frame.Width * (long)size.Height > 1.5 * size.Width * frame.Height;
        using var scene = sideBySide ? new Mat(frame, new Rect(0, 0, frame.Width / 2, frame.Height)) : frame.Clone();
        using var resized = new Mat();
        Cv2.Resize(scene, resized, size, 0, 0, InterpolationFlags.Area);
        using var grey = new Mat();
        Cv2.CvtColor(resized, grey, ColorConversionCodes.GRAY2BGR);
        grey.ConvertTo(canvas, -1, 0.5);
        return canvas;
    }
}
