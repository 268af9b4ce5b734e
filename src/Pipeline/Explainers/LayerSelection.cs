using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>
/// Which layers to explain at: <c>auto</c> (each detection at the layer feeding the head at its own level, so no
/// map is blank) or explicit layer indices, also written <c>74</c>, <c>74_act</c> or <c>74.act</c> (the output of
/// a Conv/RepConv's activation is the layer's output).
/// </summary>
public sealed class LayerSelection
{
    private LayerSelection(IReadOnlyList<int>? layers) => Layers = layers;

    /// <summary>Explicit layers, or null for <c>auto</c>.</summary>
    public IReadOnlyList<int>? Layers { get; }

    /// <summary>True for <c>auto</c>.</summary>
    public bool IsAuto => Layers is null;

    /// <summary>The automatic per-level choice.</summary>
    public static LayerSelection Auto { get; } = new(null);

    /// <summary>Parses <c>auto</c> or a comma-separated list, validated against <paramref name="model"/>.</summary>
    public static LayerSelection Parse(string text, YoloModel model)
    {
        if (string.IsNullOrWhiteSpace(text) || text.Trim().Equals("auto", StringComparison.OrdinalIgnoreCase)) return Auto;
        var layers = new List<int>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var head = part.Split('_', '.')[0];
            string rest = part[head.Length..].TrimStart('_', '.');
            if (!int.TryParse(head, out int index) || index < 0 || index >= model.Layers.Count - 1)
                throw new UserInputException($"--layers '{part}': not a layer index between 0 and {model.Layers.Count - 2} (see `stream-analyzer info`)");
            if (rest.Length > 0 && rest != "act")
                throw new UserInputException($"--layers '{part}': only a layer's output ('{index}' or '{index}_act') can be explained");
            if (model.Layers[index].Stride == 0)
                throw new UserInputException($"--layers '{part}': layer {index} has no spatial output");
            layers.Add(index);
        }
        return new LayerSelection(layers.Distinct().ToArray());
    }

    /// <summary>The layers to explain a detection of <paramref name="level"/> at.</summary>
    public IReadOnlyList<int> For(YoloModel model, int level) => Layers ?? [model.HeadInputs[level]];
}
