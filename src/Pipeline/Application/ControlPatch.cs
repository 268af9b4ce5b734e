using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;
using StreamAnalyzer.Pipeline.Runtime;

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

    /// <summary>The keys a JSON patch may have, as <see cref="Read"/> lists them.</summary>
    public static IReadOnlyList<string> Keys { get; } = ["method", "layers", "target", "top_k", "cam_every", "conf", "classes", "heatmap", "alpha"];

    /// <summary>
    /// The patch a JSON object gives, checked key by key so that a mistake is named: an unknown key (a typo would
    /// otherwise change nothing, silently) or a value of the wrong type. A null value leaves its setting as it is.
    /// Ranges and names are checked by <see cref="ControlBoard.Apply"/>.
    /// </summary>
    /// <exception cref="UserInputException">Not an object, an unknown key, or a value of the wrong type.</exception>
    public static ControlPatch Read(JsonElement body)
    {
        if (body.ValueKind != JsonValueKind.Object)
            throw new UserInputException($"the body is not a JSON object of controls ({string.Join(", ", Keys)})");
        // Any case, as the web API's JSON reading always allowed.
        var unknown = body.EnumerateObject().Select(p => p.Name).Where(n => !Keys.Contains(n, StringComparer.OrdinalIgnoreCase)).ToArray();
        if (unknown.Length > 0)
            throw new UserInputException($"unknown control{(unknown.Length > 1 ? "s" : "")} {string.Join(", ", unknown.Select(n => $"'{n}'"))}; the controls are {string.Join(", ", Keys)}");
        var patch = new ControlPatch();
        foreach (var p in body.EnumerateObject())
        {
            var v = p.Value;
            if (v.ValueKind == JsonValueKind.Null) continue;
            patch = p.Name.ToLowerInvariant() switch
            {
                "method" => patch with { Method = Text(p, "a CAM method name") },
                "layers" => patch with { Layers = Text(p, "auto, neck, or layer indices / submodule paths") },
                "target" => patch with { Target = Text(p, "logit, prob or conf") },
                "top_k" => patch with { TopK = v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int k) ? k : throw Wrong(p, "a whole number, at least 1") },
                "cam_every" => patch with { CamEvery = v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int n) ? n : throw Wrong(p, "a whole number, 0 (never) or more") },
                "conf" => patch with { ConfThreshold = v.ValueKind == JsonValueKind.Number && v.TryGetSingle(out float c) && float.IsFinite(c) ? c : throw Wrong(p, "a number between 0 and 1") },
                "alpha" => patch with { Alpha = v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double a) && double.IsFinite(a) ? a : throw Wrong(p, "a number between 0 and 1") },
                "heatmap" => patch with { Heatmap = v.ValueKind is JsonValueKind.True or JsonValueKind.False ? v.GetBoolean() : throw Wrong(p, "true or false") },
                "classes" => patch with { Classes = ClassIds(p) },
                _ => patch,
            };
        }
        return patch;
    }

    private static string Text(JsonProperty p, string expected) =>
        p.Value.ValueKind == JsonValueKind.String ? p.Value.GetString()! : throw Wrong(p, $"a string: {expected}");

    private static int[] ClassIds(JsonProperty p)
    {
        const string expected = "a list of class ids (whole numbers from 0), [] for every class";
        if (p.Value.ValueKind != JsonValueKind.Array) throw Wrong(p, expected);
        return p.Value.EnumerateArray().Select(e => e.ValueKind == JsonValueKind.Number && e.TryGetInt32(out int id) ? id : throw Wrong(p, expected)).ToArray();
    }

    private static UserInputException Wrong(JsonProperty p, string expected)
    {
        string given = p.Value.GetRawText();
        if (given.Length > 40) given = string.Create(CultureInfo.InvariantCulture, $"{given[..40]}...");
        return new UserInputException($"{p.Name} must be {expected}, not {given}");
    }

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
