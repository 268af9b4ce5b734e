using System.Text.Json.Serialization;
using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary>
/// One line of the pipeline's <c>--save-json</c>: <c>detect</c>'s schema plus <c>frame</c> (index in its source),
/// <c>timestamp_ms</c>, <c>explained</c>, <c>name</c> for a source the user named, and for explained detections a <c>map</c> with the method and layer, the peak
/// (original pixels), the share of the map's mass inside the box and, with <c>--cam-faithfulness</c>, its deletion and
/// insertion AUC.
/// </summary>
public sealed record FrameRecord(
    [property: JsonPropertyName("source"), JsonPropertyOrder(-2)] string Source,
    [property: JsonPropertyName("frame")] long Frame,
    [property: JsonPropertyName("timestamp_ms")] double TimestampMs,
    [property: JsonPropertyName("width")] int Width,
    [property: JsonPropertyName("height")] int Height,
    [property: JsonPropertyName("explained")] bool Explained,
    [property: JsonPropertyName("detections")] IReadOnlyList<FrameRecord.Item> Detections,
    [property: JsonPropertyName("timings_ms")] IReadOnlyDictionary<string, double> TimingsMs)
{
    /// <summary>The name the user gave the source (<c>name=path</c>), if any: written after <c>source</c>.</summary>
    [JsonPropertyName("name"), JsonPropertyOrder(-1), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public string? Name { get; init; }

    /// <summary>One detection.</summary>
    public sealed record Item(
        [property: JsonPropertyName("box")] float[] Box,
        [property: JsonPropertyName("class_id")] int ClassId,
        [property: JsonPropertyName("class_name")] string ClassName,
        [property: JsonPropertyName("confidence")] float Confidence,
        [property: JsonPropertyName("map"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] MapItem? Map);

    /// <summary>Statistics of a detection's explanation map.</summary>
    public sealed record MapItem(
        [property: JsonPropertyName("method")] string Method,
        [property: JsonPropertyName("layer")] string Layer,
        [property: JsonPropertyName("peak")] float[] Peak,
        [property: JsonPropertyName("mass_in_box")] double MassInBox,
        [property: JsonPropertyName("faithfulness"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] FaithfulnessItem? Faithfulness);

    /// <summary>Deletion and insertion AUC of a map (<c>--cam-faithfulness</c>; lower deletion and higher insertion are better).</summary>
    public sealed record FaithfulnessItem(
        [property: JsonPropertyName("deletion_auc")] double DeletionAuc,
        [property: JsonPropertyName("insertion_auc")] double InsertionAuc,
        [property: JsonPropertyName("steps")] int Steps);

    /// <summary>The record of an analysed frame.</summary>
    public static FrameRecord From(string source, AnalyzedFrame frame)
    {
        var r = frame.Result;
        var stats = frame.MapStatistics;
        var items = r.Detections.Select((d, i) => new Item(d.Box.ToArray().Select(v => MathF.Round(v, 2)).ToArray(), d.ClassId, d.ClassName,
            MathF.Round(d.Confidence, 5),
            stats is not null && i < stats.Count ? new MapItem(stats[i].Method, stats[i].Layer, [MathF.Round(stats[i].PeakX, 1), MathF.Round(stats[i].PeakY, 1)], Math.Round(stats[i].MassInBox, 4),
                stats[i].Faithfulness is { } f ? new FaithfulnessItem(Math.Round(f.DeletionAuc, 4), Math.Round(f.InsertionAuc, 4), f.Deletion.Count - 1) : null) : null)).ToArray();
        var t = r.Timings;
        var timings = new Dictionary<string, double>
        {
            ["preprocess"] = Math.Round(t.PreprocessMs, 3), ["forward"] = Math.Round(t.ForwardMs, 3), ["nms"] = Math.Round(t.NmsMs, 3),
            ["explain"] = Math.Round(t.ExplainMs, 3), ["render"] = Math.Round(frame.RenderMs, 3),
        };
        return new FrameRecord(source, frame.Frame.Index, Math.Round(frame.Frame.TimestampMs, 3), r.Geometry.SourceWidth, r.Geometry.SourceHeight,
            frame.Explained, items, timings);
    }
}
