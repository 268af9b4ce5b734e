using System.Text.Json.Serialization;
using StreamAnalyzer.Pipeline.Detection;

namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary>
/// One line of <c>--save-json</c> output (JSON Lines). Field names are a documented contract:
/// <c>{"source", "width", "height", "detections": [{"box", "class_id", "class_name", "confidence"}], "timings_ms"}</c>.
/// </summary>
public sealed record DetectionRecord(
    [property: JsonPropertyName("source")] string Source,
    [property: JsonPropertyName("width")] int Width,
    [property: JsonPropertyName("height")] int Height,
    [property: JsonPropertyName("detections")] IReadOnlyList<DetectionRecord.Item> Detections,
    [property: JsonPropertyName("timings_ms")] DetectionRecord.Timings TimingsMs)
{
    /// <summary>One detection: box in original-image pixels [x1, y1, x2, y2].</summary>
    public sealed record Item(
        [property: JsonPropertyName("box")] float[] Box,
        [property: JsonPropertyName("class_id")] int ClassId,
        [property: JsonPropertyName("class_name")] string ClassName,
        [property: JsonPropertyName("confidence")] float Confidence);

    /// <summary>Per-stage milliseconds.</summary>
    public sealed record Timings(
        [property: JsonPropertyName("preprocess")] double Preprocess,
        [property: JsonPropertyName("forward")] double Forward,
        [property: JsonPropertyName("nms")] double Nms);

    /// <summary>The record for one frame's result.</summary>
    public static DetectionRecord From(string source, DetectionResult result) => new(
        source, result.Geometry.SourceWidth, result.Geometry.SourceHeight,
        result.Detections.Select(d => new Item(d.Box.ToArray().Select(v => MathF.Round(v, 2)).ToArray(), d.ClassId, d.ClassName,
            MathF.Round(d.Confidence, 5))).ToArray(),
        new Timings(Math.Round(result.Timings.PreprocessMs, 3), Math.Round(result.Timings.ForwardMs, 3), Math.Round(result.Timings.NmsMs, 3)));
}
