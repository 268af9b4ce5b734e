using StreamAnalyzer.Pipeline.Explainers.Methods;
using StreamAnalyzer.Pipeline.Explainers.Targets;
using StreamAnalyzer.Pipeline.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>
/// Explains detections with a CAM method. The forward pass that detects can also serve the explanation
/// (<see cref="Explain(ModelOutput, int, IReadOnlyList{Detection.Detection})"/>): the network runs without autograd
/// up to the target layers, whose outputs become autograd leaves, and for each detection only dScore/dA is computed
/// with <c>autograd.grad</c> - no parameter gradients, no backward below the target layers.
/// </summary>
public sealed class CamExplainer(YoloModel model, CamMethod method, CamTarget target, LayerSelection layers)
{
    /// <summary>The method.</summary>
    public CamMethod Method { get; } = method;

    /// <summary>The target.</summary>
    public CamTarget Target { get; } = target;

    /// <summary>The layer choice.</summary>
    public LayerSelection Layers { get; } = layers;

    /// <summary>The targets a forward pass must capture (and take gradients from).</summary>
    public IReadOnlyList<ExplainTarget> RequiredTargets => Layers.AllTargets(model);

    /// <summary>Runs the forward pass explanations need: activations captured, gradients recorded from the target layers.</summary>
    public ModelOutput Forward(Tensor input)
    {
        var targets = RequiredTargets;
        var layers = targets.Where(t => t.Submodule is null).Select(t => t.Layer).ToArray();
        var submodules = targets.Where(t => t.Submodule is not null).Select(t => t.Name).ToArray();
        return model.Run(input, capture: layers, gradientFrom: Method.NeedsGradients ? layers : null, submodules: submodules);
    }

    /// <summary>Runs its own forward pass on one letterboxed input (1, 3, H, W) and explains the detections.</summary>
    public IReadOnlyList<DetectionExplanation> Explain(Tensor input, IReadOnlyList<Pipeline.Detection.Detection> detections)
    {
        if (detections.Count == 0) return [];
        using var scope = NewDisposeScope();
        return Explain(Forward(input), 0, detections);
    }

    /// <summary>
    /// Explains detections of image <paramref name="batchIndex"/> from a forward pass made by <see cref="Forward"/>.
    /// Each detection's <see cref="Pipeline.Detection.Detection.Row"/> indexes that image's prediction.
    /// </summary>
    public IReadOnlyList<DetectionExplanation> Explain(ModelOutput output, int batchIndex, IReadOnlyList<Pipeline.Detection.Detection> detections)
    {
        if (detections.Count == 0) return [];
        int height = output.InputHeight, width = output.InputWidth;
        var results = new DetectionExplanation[detections.Count];
        // Scores are indexed out of the recorded logits: that must be recorded too, whatever the caller's grad mode.
        using var grad = enable_grad();
        for (int i = 0; i < detections.Count; i++)
        {
            var d = detections[i];
            int level = model.LevelOfRow(d.Row, height, width);
            using var scope = NewDisposeScope();
            var targets = Layers.For(model, level);
            Tensor Activation(ExplainTarget t) => t.Submodule is null ? output.Activations[t.Layer] : output.Submodules[t.Name];
            // One backward per detection, for all its targets that reach its level; the others have zero gradient.
            var reaching = Method.NeedsGradients ? targets.Where(t => model.LevelsFedBy(t.Layer, t.Submodule).Contains(level)).ToArray() : [];
            var gradients = new Dictionary<ExplainTarget, Tensor>();
            if (reaching.Length > 0)
            {
                var score = Target.Score(output.Logits[batchIndex, d.Row], d.ClassId, model.Layout);
                var inputs = reaching.Select(Activation).ToArray();
                // libtorch aborts the process on a graph error inside grad(): check what it would check.
                if (!score.requires_grad || inputs.Any(t => !t.requires_grad))
                    throw new InvalidOperationException("the forward pass did not record gradients: use CamExplainer.Forward");
                var grads = torch.autograd.grad([score], inputs, retain_graph: true);
                for (int j = 0; j < reaching.Length; j++) gradients[reaching[j]] = grads[j][batchIndex].detach();
            }

            var maps = new List<(string Layer, Tensor? Map)>();
            foreach (var t in targets)
            {
                var activations = Activation(t)[batchIndex].detach();
                if (activations.dim() != 3)
                    throw new Runtime.UserInputException($"--layers {t.Name}: its output is not a feature map (shape {string.Join("x", activations.shape)}); choose a convolutional layer or submodule");
                Tensor? raw = !Method.NeedsGradients ? Method.Map(activations, null)
                    : gradients.TryGetValue(t, out var g) ? Method.Map(activations, g)
                    : null; // the target does not reach the detection's level: a constant (zero) map
                maps.Add((t.Name, raw is null ? null : Normalise(raw, height, width)));
            }
            if (Layers.Fuses)
            {
                var informative = maps.Where(m => m.Map is not null).Select(m => m.Map!).ToList();
                var fused = informative.Count == 0 ? null : Renormalise(stack(informative).sum(0L));
                results[i] = new DetectionExplanation(d, [ToCamMap("neck", fused, height, width)]);
            }
            else
            {
                results[i] = new DetectionExplanation(d, maps.Select(m => ToCamMap(m.Layer, m.Map, height, width)).ToArray());
            }
        }
        return results;
    }

    // Upsample to the input (bilinear, align_corners=False) and min-max normalise, as the reference;
    // null for a constant map, where the reference divides 0 by 0.
    private static Tensor? Normalise(Tensor raw, int height, int width)
    {
        var up = nn.functional.interpolate(raw.to(ScalarType.Float32).view(1, 1, raw.shape[0], raw.shape[1]),
            size: [height, width], mode: InterpolationMode.Bilinear, align_corners: false).view(height, width);
        return Renormalise(up);
    }

    private static Tensor? Renormalise(Tensor map)
    {
        float min = map.min().item<float>(), max = map.max().item<float>();
        // Constant up to float rounding, relative to the map's own scale (gradients through deep random nets are tiny).
        if (!(max - min > 1e-6f * Math.Max(Math.Abs(max), Math.Abs(min))) || float.IsNaN(min) || float.IsNaN(max)) return null;
        return (map - min) / (max - min);
    }

    private static CamMap ToCamMap(string layer, Tensor? map, int height, int width) => map is null
        ? new CamMap(layer, width, height, new float[height * width], true)
        : new CamMap(layer, width, height, map.cpu().data<float>().ToArray(), false);
}
