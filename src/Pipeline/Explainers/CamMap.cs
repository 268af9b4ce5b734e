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
    /// <summary>The map's deletion and insertion scores, where the explainer was asked for them (<see cref="CamExplainer.FaithfulnessSteps"/>).</summary>
    public Faithfulness.FaithfulnessScore? Faithfulness { get; init; }

    /// <summary>The element-wise maximum of maps of one size (the combined view of several detections).</summary>
    public static CamMap Max(IReadOnlyList<CamMap> maps)
    {
        if (maps.Count == 1) return maps[0];
        var values = (float[])maps[0].Values.Clone();
        foreach (var m in maps.Skip(1)) MapSteps.Max(values, m.Values);
        return new CamMap("combined", maps[0].Width, maps[0].Height, values, maps.All(m => m.IsConstant));
    }

    /// <summary>Share of the map's mass inside a box given in input pixels (0 for an empty map).</summary>
    public double MassInside(Detection.BoxF box)
    {
        double total = MapSteps.Sum(Values);
        if (!(total > 0)) return 0;
        int x1 = Math.Max(0, (int)Math.Floor(box.X1)), x2 = Math.Min(Width, (int)Math.Ceiling(box.X2));
        int y1 = Math.Max(0, (int)Math.Floor(box.Y1)), y2 = Math.Min(Height, (int)Math.Ceiling(box.Y2));
        double inside = 0;
        for (int y = y1; y < y2 && x2 > x1; y++) inside += MapSteps.Sum(Values.AsSpan(y * Width + x1, x2 - x1));
        return inside / total;
    }

    /// <summary>Location (x, y) in input pixels of the highest value.</summary>
    public (int X, int Y) Peak()
    {
        int best = MapSteps.IndexOfMax(Values);
        return best < 0 ? (0, 0) : (best % Width, best / Width);
    }
}
