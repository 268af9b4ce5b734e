using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.WebView;

/// <summary>One detection on the page.</summary>
/// <param name="ClassId">Class index.</param>
/// <param name="ClassName">Class name.</param>
/// <param name="Confidence">Confidence.</param>
/// <param name="Box">x1, y1, x2, y2 in frame pixels.</param>
/// <param name="Map">Its map's statistics when it was explained.</param>
public sealed record TileDetection(int ClassId, string ClassName, float Confidence, float[] Box, MapStatistics? Map);
