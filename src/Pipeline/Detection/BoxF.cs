namespace StreamAnalyzer.Pipeline.Detection;

/// <summary>An axis-aligned box in pixels: (X1, Y1) top-left, (X2, Y2) bottom-right.</summary>
public readonly record struct BoxF(float X1, float Y1, float X2, float Y2)
{
    /// <summary>Width (never negative).</summary>
    public float Width => Math.Max(0, X2 - X1);

    /// <summary>Height (never negative).</summary>
    public float Height => Math.Max(0, Y2 - Y1);

    /// <summary>Area in square pixels.</summary>
    public float Area => Width * Height;

    /// <summary>As [x1, y1, x2, y2].</summary>
    public float[] ToArray() => [X1, Y1, X2, Y2];

    /// <summary>Intersection over union, as torchvision's nms computes it.</summary>
    public static float IoU(in BoxF a, in BoxF b)
    {
        float w = Math.Max(0, Math.Min(a.X2, b.X2) - Math.Max(a.X1, b.X1));
        float h = Math.Max(0, Math.Min(a.Y2, b.Y2) - Math.Max(a.Y1, b.Y1));
        float inter = w * h;
        float union = a.Area + b.Area - inter;
        return union > 0 ? inter / union : 0;
    }
}
