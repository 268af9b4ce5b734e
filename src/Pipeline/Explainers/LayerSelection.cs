using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>
/// Which layers to explain at:
/// <list type="bullet">
/// <item><c>auto</c>: each detection at the layer feeding the head at its own level, so no map is blank;</item>
/// <item><c>neck</c>: for each detection, the head input at its level and the layers feeding that input, each map
/// normalised, then fused into one (gradients taken along the detection's own level's path);</item>
/// <item>explicit layers, comma-separated: an index (<c>74</c>; <c>74_act</c> and <c>74.act</c> mean the same, as a
/// Conv/RepConv's activation output is the layer's output) or a submodule path (<c>102.rbr_dense</c>,
/// <c>74.conv</c>; with <c>--no-fuse</c> for submodules that fusion removes).</item>
/// </list>
/// </summary>
public sealed class LayerSelection
{
    private readonly string _mode;

    private LayerSelection(string mode, IReadOnlyList<ExplainTarget>? layers)
    {
        _mode = mode;
        Layers = layers;
    }

    /// <summary>Explicit targets, or null for <c>auto</c> and <c>neck</c>.</summary>
    public IReadOnlyList<ExplainTarget>? Layers { get; }

    /// <summary>True for <c>auto</c>.</summary>
    public bool IsAuto => _mode == "auto";

    /// <summary>True when the maps of several layers are fused into one per detection (<c>neck</c>).</summary>
    public bool Fuses => _mode == "neck";

    /// <summary>The automatic per-level choice.</summary>
    public static LayerSelection Auto { get; } = new("auto", null);

    /// <summary>The fused neck layers.</summary>
    public static LayerSelection Neck { get; } = new("neck", null);

    /// <summary>Name used in file names: the layer list, <c>auto</c> or <c>neck</c>.</summary>
    public override string ToString() => Layers is null ? _mode : string.Join(",", Layers.Select(l => l.Name));

    /// <summary>Parses <c>auto</c>, <c>neck</c> or a comma-separated list, validated against <paramref name="model"/>.</summary>
    public static LayerSelection Parse(string text, YoloModel model)
    {
        string t = text?.Trim().ToLowerInvariant() ?? "";
        if (t is "" or "auto") return Auto;
        if (t == "neck") return Neck;
        var layers = new List<ExplainTarget>();
        // A trailing comma is taken (camera specs stored that way); an empty entry between two is a typo.
        var parts = t.TrimEnd(',').Split(',', StringSplitOptions.TrimEntries);
        foreach (var part in parts)
        {
            if (part.Length == 0) throw new UserInputException($"--layers '{text}': an empty entry between commas (write indices as 74,75)");
            var head = part.Split('_', '.')[0];
            string rest = part[head.Length..].TrimStart('_', '.');
            if (!int.TryParse(head, out int index) || index < 0 || index > model.HeadIndex)
                throw new UserInputException($"--layers '{part}': not a layer index between 0 and {model.HeadIndex}, auto or neck (see `stream-analyzer info`)");
            bool isHead = index == model.HeadIndex;
            if (model.Layers[index].Stride == 0 && !(isHead && rest.Length > 0 && rest != "act"))
                throw new UserInputException(isHead
                    ? $"--layers '{part}': layer {index} is the detect head; name one of its per-level submodules, e.g. {index}.{model.SubmodulePaths(index).FirstOrDefault(p => model.Head.LevelOfSubmodule(p) is not null) ?? "..."}"
                    : $"--layers '{part}': layer {index} has no spatial output");
            if (rest.Length == 0 || rest == "act")
            {
                layers.Add(new ExplainTarget(index));
                continue;
            }
            var paths = model.SubmodulePaths(index);
            if (!paths.Contains(rest))
                throw new UserInputException($"--layers '{part}': layer {index} ({model.Layers[index].Module}) has no submodule '{rest}'" +
                    (paths.Count > 0 ? $"; it has {string.Join(", ", paths)}" : "") + (model.IsFused ? " (fused; --no-fuse keeps BatchNorm and RepConv branches)" : ""));
            if (isHead && model.Head.LevelOfSubmodule(rest) is null)
                throw new UserInputException($"--layers '{part}': '{rest}' is not a per-level part of the detect head (its output is not a feature map of one level)");
            layers.Add(new ExplainTarget(index, rest));
        }
        return new LayerSelection("list", layers.Distinct().ToArray());
    }

    /// <summary>Every target a forward pass must keep (and take gradients from) for any detection.</summary>
    public IReadOnlyList<ExplainTarget> AllTargets(YoloModel model) => _mode switch
    {
        "auto" => model.HeadInputs.Select(l => new ExplainTarget(l)).ToArray(),
        "neck" => NeckLayers(model).Select(l => new ExplainTarget(l)).ToArray(),
        _ => Layers!,
    };

    /// <summary>The targets to explain a detection of <paramref name="level"/> at.</summary>
    public IReadOnlyList<ExplainTarget> For(YoloModel model, int level) => _mode switch
    {
        "auto" => [new ExplainTarget(model.HeadInputs[level])],
        "neck" => NeckLayersOf(model, level).Select(l => new ExplainTarget(l)).ToArray(),
        _ => Layers!,
    };

    /// <summary>A level's head input and the layers feeding it directly: where <c>neck</c> explains that level's detections.</summary>
    public static int[] NeckLayersOf(YoloModel model, int level)
    {
        int h = model.HeadInputs[level];
        return model.Layers[h].From.Where(f => f >= 0 && model.Layers[f].Stride > 0).Append(h).Distinct().Order().ToArray();
    }

    /// <summary>
    /// Where gradients start for a selection, when only the part of the network above them needs recomputing:
    /// the head inputs for <c>auto</c>; the layers feeding the head inputs for <c>neck</c> (each detection takes its
    /// gradients along its own level's path, not across the neck's other paths); null (worked out from the layers) for
    /// explicit lists.
    /// </summary>
    public IReadOnlyList<int>? GradientRoots(YoloModel model) => _mode switch
    {
        "auto" => model.HeadInputs.ToArray(),
        "neck" => NeckLayers(model).Except(model.HeadInputs).ToArray(),
        _ => null,
    };

    /// <summary>The head inputs and the layers that feed them.</summary>
    public static int[] NeckLayers(YoloModel model) => model.HeadInputs
        .SelectMany(h => model.Layers[h].From.Where(f => f >= 0 && model.Layers[f].Stride > 0).Append(h))
        .Distinct().Order().ToArray();
}
