using StreamAnalyzer.Pipeline.Explainers.Targets;
using StreamAnalyzer.Pipeline.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>Gradients from a forward pass that recorded the graph above the target layers: one backward per detection.</summary>
internal sealed class GraphGradients(YoloModel model, ModelOutput output, CamTarget target) : IGradientSource
{
    public IReadOnlyDictionary<ExplainTarget, WindowedGradient> Gradients(int batchIndex, Detection.Detection detection, int level, IReadOnlyList<ExplainTarget> targets)
    {
        var score = target.Score(output.Logits[batchIndex, detection.Row], detection.ClassId, model.Layout);
        var inputs = targets.Select(t => t.Submodule is null ? output.Activations[t.Layer] : output.Submodules[t.Name]).ToArray();
        // libtorch aborts the process on a graph error inside grad(): check what it would check.
        if (!score.requires_grad || inputs.Any(t => !t.requires_grad))
            throw new InvalidOperationException("the forward pass did not record gradients: use CamExplainer.Forward");
        var grads = torch.autograd.grad([score], inputs, retain_graph: true);
        return targets.Select((t, j) => (t, WindowedGradient.Whole(grads[j][batchIndex].detach()))).ToDictionary(p => p.t, p => p.Item2);
    }
}
