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

    /// <summary>The layers a forward pass must capture (and make gradient leaves of) for <see cref="Explain(ModelOutput, int, IReadOnlyList{Detection.Detection})"/>.</summary>
    public IReadOnlyList<int> RequiredLayers => Layers.AllLayers(model);

    /// <summary>Runs the forward pass explanations need: activations captured, gradients recorded from the target layers.</summary>
    public ModelOutput Forward(Tensor input) =>
        model.Run(input, capture: RequiredLayers, gradientFrom: Method.NeedsGradients ? RequiredLayers : null);

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
        var anyActivation = output.Activations.Values.First();
        int height = (int)(anyActivation.shape[2] * model.Layers[output.Activations.Keys.First()].Stride);
        int width = (int)(anyActivation.shape[3] * model.Layers[output.Activations.Keys.First()].Stride);
        var results = new DetectionExplanation[detections.Count];
        // Scores are indexed out of the recorded logits: that must be recorded too, whatever the caller's grad mode.
        using var grad = enable_grad();
        for (int i = 0; i < detections.Count; i++)
        {
            var d = detections[i];
            int level = model.LevelOfRow(d.Row, height, width);
            using var scope = NewDisposeScope();
            Tensor? score = null;
            var maps = new List<CamMap>();
            foreach (int layer in Layers.For(model, level))
            {
                var activations = output.Activations[layer][batchIndex].detach();
                Tensor raw;
                if (!Method.NeedsGradients)
                {
                    raw = Method.Map(activations, null);
                }
                else if (!model.LevelsFedBy(layer).Contains(level))
                {
                    // This layer does not reach the detection's level: its gradient is zero everywhere.
                    raw = zeros(activations.shape[1], activations.shape[2]);
                }
                else
                {
                    score ??= Target.Score(output.Logits[batchIndex, d.Row], d.ClassId);
                    // libtorch aborts the process on a graph error inside grad(): check what it would check.
                    if (!score.requires_grad || !output.Activations[layer].requires_grad)
                        throw new InvalidOperationException("the forward pass did not record gradients: use CamExplainer.Forward");
                    var gradient = torch.autograd.grad([score], [output.Activations[layer]], retain_graph: true)[0][batchIndex];
                    raw = Method.Map(activations, gradient.detach());
                }
                maps.Add(Normalise(layer.ToString(), raw, height, width));
            }
            results[i] = new DetectionExplanation(d, Layers.Fuses ? [FuseMaps(maps, width, height)] : maps);
        }
        return results;
    }

    private static CamMap FuseMaps(List<CamMap> maps, int width, int height)
    {
        var informative = maps.Where(m => !m.IsConstant).ToList();
        if (informative.Count == 0) return new CamMap("neck", width, height, new float[width * height], true);
        var fused = new float[width * height];
        foreach (var m in informative)
            for (int p = 0; p < fused.Length; p++) fused[p] += m.Values[p];
        float max = fused.Max(), min = fused.Min();
        if (!(max - min > 1e-12f)) return new CamMap("neck", width, height, new float[width * height], true);
        for (int p = 0; p < fused.Length; p++) fused[p] = (fused[p] - min) / (max - min);
        return new CamMap("neck", width, height, fused, false);
    }

    private static CamMap Normalise(string layer, Tensor raw, int height, int width)
    {
        var up = nn.functional.interpolate(raw.to(ScalarType.Float32).view(1, 1, raw.shape[0], raw.shape[1]),
            size: [height, width], mode: InterpolationMode.Bilinear, align_corners: false).view(height, width);
        float min = up.min().item<float>(), max = up.max().item<float>();
        // The reference divides by (max - min) and gets NaN for a constant map; a constant map carries no information.
        if (!(max - min > 1e-12f) || float.IsNaN(min) || float.IsNaN(max))
            return new CamMap(layer, width, height, new float[height * width], true);
        var values = ((up - min) / (max - min)).cpu().data<float>().ToArray();
        return new CamMap(layer, width, height, values, false);
    }
}
