using OpenCvSharp;
using StreamAnalyzer.Pipeline.Detection;

namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>Maps explanation maps from the letterboxed input back onto the original frame.</summary>
public static class FrameMaps
{
    /// <summary>
    /// The map over the original frame (a new CV_32F Mat the caller owns): the padding is cropped and the rest
    /// resized bilinearly to the frame size.
    /// </summary>
    public static Mat ToFrame(CamMap map, LetterboxGeometry g)
    {
        using var full = Mat.FromPixelData(map.Height, map.Width, MatType.CV_32FC1, map.Values);
        using var inner = new Mat(full, new Rect(g.Left, g.Top, g.ResizedWidth, g.ResizedHeight));
        var frame = new Mat();
        Cv2.Resize(inner, frame, new Size(g.SourceWidth, g.SourceHeight), interpolation: InterpolationFlags.Linear);
        return frame;
    }

    /// <summary>Renormalises a frame map to [0, 1] inside <paramref name="box"/> and zeroes it outside (the "inside the box" view).</summary>
    public static void NormaliseInsideBox(Mat map, BoxF box)
    {
        var rect = new Rect((int)box.X1, (int)box.Y1, Math.Max(1, (int)Math.Ceiling(box.Width)), Math.Max(1, (int)Math.Ceiling(box.Height)))
            & new Rect(0, 0, map.Width, map.Height);
        using var inside = new Mat(map, rect).Clone();
        Cv2.MinMaxLoc(inside, out double min, out double max);
        map.SetTo(Scalar.All(0));
        if (max - min <= 1e-12 || rect.Width == 0 || rect.Height == 0) return;
        using var scaled = new Mat();
        inside.ConvertTo(scaled, MatType.CV_32FC1, 1 / (max - min), -min / (max - min));
        using var target = new Mat(map, rect);
        scaled.CopyTo(target);
    }

    /// <summary>The element-wise maximum of several frame maps (the combined view of the top K), a new Mat.</summary>
    public static Mat Combine(IReadOnlyList<Mat> maps)
    {
        var combined = maps[0].Clone();
        foreach (var m in maps.Skip(1)) Cv2.Max(combined, m, combined);
        return combined;
    }

    /// <summary>Share of the map's mass that lies inside <paramref name="box"/> (0 for an empty map).</summary>
    public static double MassInside(Mat map, BoxF box)
    {
        double total = Cv2.Sum(map).Val0;
        if (total <= 0) return 0;
        var rect = new Rect((int)Math.Floor(box.X1), (int)Math.Floor(box.Y1), (int)Math.Ceiling(box.Width) + 1, (int)Math.Ceiling(box.Height) + 1)
            & new Rect(0, 0, map.Width, map.Height);
        using var inside = new Mat(map, rect);
        return Cv2.Sum(inside).Val0 / total;
    }
}
