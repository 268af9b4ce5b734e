using StreamAnalyzer.Pipeline.Explainers.Methods;
using StreamAnalyzer.Pipeline.Explainers.Targets;
using StreamAnalyzer.Pipeline.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>
/// Explains detections with a CAM method. One forward pass serves all detections of a frame; for each detection
/// only dScore/dA is computed (<c>autograd.grad</c> with respect to the target activations): no parameter
/// gradients, and no backward below the target layers, which the forward makes autograd leaves.
/// </summary>
public sealed class CamExplainer(YoloModel model, CamMethod method, CamTarget target, LayerSelection layers)
{
    /// <summary>The method.</summary>
    public CamMethod Method { get; } = method;

    /// <summary>The target.</summary>
    public CamTarget Target { get; } = target;

    /// <summary>The layer choice.</summary>
    public LayerSelection Layers { get; } = layers;

    /// <summary>
    /// Explains <paramref name="detections"/> of one letterboxed input (1, 3, H, W) on the model's device. Each
    /// detection's <see cref="Pipeline.Detection.Detection.Row"/> must index this input's prediction.
    /// </summary>
    public IReadOnlyList<DetectionExplanation> Explain(Tensor input, IReadOnlyList<Pipeline.Detection.Detection> detections)
    {
        if (detections.Count == 0) return [];
        int height = (int)input.shape[2], width = (int)input.shape[3];
        var levels = detections.Select(d => model.LevelOfRow(d.Row, height, width)).ToArray();
        var perDetection = levels.Select(l => Layers.For(model, l)).ToArray();
        var wanted = perDetection.SelectMany(l => l).Distinct().ToArray();
        var feeds = wanted.ToDictionary(l => l, model.LevelsFedBy);

        using var scope = NewDisposeScope();
        var output = model.Run(input, capture: wanted, gradientFrom: Method.NeedsGradients ? wanted : null);
        var results = new DetectionExplanation[detections.Count];
        for (int i = 0; i < detections.Count; i++)
        {
            var d = detections[i];
            var maps = new List<CamMap>();
            Tensor? score = null;
            foreach (int layer in perDetection[i])
            {
                using var inner = NewDisposeScope();
                var activations = output.Activations[layer][0].detach();
                Tensor raw;
                if (!Method.NeedsGradients)
                {
                    raw = Method.Map(activations, null);
                }
                else if (!feeds[layer].Contains(levels[i]))
                {
                    // This layer does not reach the detection's level: its gradient is zero everywhere.
                    raw = zeros(activations.shape[1], activations.shape[2]);
                }
                else
                {
                    score ??= Target.Score(output.Logits[0, d.Row], d.ClassId).MoveToOuterDisposeScope();
                    var gradient = torch.autograd.grad([score], [output.Activations[layer]], retain_graph: true)[0][0];
                    raw = Method.Map(activations, gradient.detach());
                }
                maps.Add(Normalise(layer, raw, height, width));
            }
            results[i] = new DetectionExplanation(d, maps);
        }
        return results;
    }

    private static CamMap Normalise(int layer, Tensor raw, int height, int width)
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
