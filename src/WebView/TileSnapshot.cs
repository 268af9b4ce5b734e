namespace StreamAnalyzer.WebView;

/// <summary>A stream's newest frame, as the page lists it.</summary>
/// <param name="Frame">Frame index in its source.</param>
/// <param name="Explained">Whether this frame was explained.</param>
/// <param name="Detections">Its detections, most confident first.</param>
/// <param name="InferenceMs">Preprocess, forward pass and NMS.</param>
/// <param name="ExplainMs">Explanation time (0 when not explained).</param>
/// <param name="LatencyMs">Capture to written.</param>
/// <param name="Width">Frame width.</param>
/// <param name="Height">Frame height.</param>
public sealed record TileSnapshot(long Frame, bool Explained, IReadOnlyList<TileDetection> Detections, double InferenceMs, double ExplainMs,
    double LatencyMs, int Width, int Height);
