namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>
/// One explanation map at the letterboxed input size, min-max normalised to [0, 1] (all zeros when the raw map is
/// constant - never NaN).
/// </summary>
/// <param name="Layer">The layer explained (its index, or <c>neck</c> for a fused map).</param>
/// <param name="Width">Map width (the model input width).</param>
/// <param name="Height">Map height.</param>
/// <param name="Values">Row-major values.</param>
/// <param name="IsConstant">The raw map was constant (e.g. the layer does not influence this detection).</param>
public sealed record CamMap(string Layer, int Width, int Height, float[] Values, bool IsConstant)
{
    /// <summary>Share of the map's mass inside a box given in input pixels (0 for an empty map).</summary>
    public double MassInside(Detection.BoxF box)
    {
        double total = 0, inside = 0;
        int x1 = Math.Max(0, (int)Math.Floor(box.X1)), x2 = Math.Min(Width, (int)Math.Ceiling(box.X2));
        int y1 = Math.Max(0, (int)Math.Floor(box.Y1)), y2 = Math.Min(Height, (int)Math.Ceiling(box.Y2));
        for (int y = 0; y < Height; y++)
        {
            for (int x = 0; x < Width; x++)
            {
                float v = Values[y * Width + x];
                total += v;
                if (x >= x1 && x < x2 && y >= y1 && y < y2) inside += v;
            }
        }
        return total > 0 ? inside / total : 0;
    }

    /// <summary>Location (x, y) in input pixels of the highest value.</summary>
    public (int X, int Y) Peak()
    {
        int best = 0;
        for (int i = 1; i < Values.Length; i++) if (Values[i] > Values[best]) best = i;
        return (best % Width, best / Width);
    }
}
