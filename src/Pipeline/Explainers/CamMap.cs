namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>
/// One explanation map at the letterboxed input size, min-max normalised to [0, 1] (all zeros when the raw map is
/// constant - never NaN).
/// </summary>
/// <param name="Layer">The layer explained.</param>
/// <param name="Width">Map width (the model input width).</param>
/// <param name="Height">Map height.</param>
/// <param name="Values">Row-major values.</param>
/// <param name="IsConstant">The raw map was constant (e.g. the layer does not influence this detection).</param>
public sealed record CamMap(int Layer, int Width, int Height, float[] Values, bool IsConstant);
