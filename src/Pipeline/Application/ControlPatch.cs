using System.Text.Json.Serialization;

namespace StreamAnalyzer.Pipeline.Application;

/// <summary>
/// A change to <see cref="StreamControls"/>: the fields given are set, the others kept. This is the JSON body of the
/// web API's control requests (snake_case names, e.g. <c>{"method": "odam", "cam_every": 1}</c>).
/// </summary>
public sealed record ControlPatch
{
    /// <summary>CAM method.</summary>
    [JsonPropertyName("method")] public string? Method { get; init; }

    /// <summary>Layers: auto, neck, or indices / submodule paths.</summary>
    [JsonPropertyName("layers")] public string? Layers { get; init; }

    /// <summary>Target: logit, prob or conf.</summary>
    [JsonPropertyName("target")] public string? Target { get; init; }

    /// <summary>Detections explained per frame (at least 1).</summary>
    [JsonPropertyName("top_k")] public int? TopK { get; init; }

    /// <summary>Explain every Nth frame (0: never).</summary>
    [JsonPropertyName("cam_every")] public int? CamEvery { get; init; }

    /// <summary>Confidence threshold, 0-1.</summary>
    [JsonPropertyName("conf")] public float? ConfThreshold { get; init; }

    /// <summary>Class ids kept (an empty list keeps every class).</summary>
    [JsonPropertyName("classes")] public int[]? Classes { get; init; }

    /// <summary>Heatmap on or off.</summary>
    [JsonPropertyName("heatmap")] public bool? Heatmap { get; init; }

    /// <summary>Heatmap opacity, 0-1.</summary>
    [JsonPropertyName("alpha")] public double? Alpha { get; init; }

    /// <summary><paramref name="current"/> with this patch applied (not validated: see <see cref="ControlBoard.Apply"/>).</summary>
    public StreamControls ApplyTo(StreamControls current) => current with
    {
        Method = Method?.Trim().ToLowerInvariant() ?? current.Method,
        Layers = Layers?.Trim().ToLowerInvariant() ?? current.Layers,
        Target = Target?.Trim().ToLowerInvariant() ?? current.Target,
        TopK = TopK ?? current.TopK,
        CamEvery = CamEvery ?? current.CamEvery,
        ConfThreshold = ConfThreshold ?? current.ConfThreshold,
        Classes = Classes is null ? current.Classes : Classes.Length == 0 ? null : Classes.Distinct().Order().ToArray(),
        Heatmap = Heatmap ?? current.Heatmap,
        Alpha = Alpha ?? current.Alpha,
    };
}
