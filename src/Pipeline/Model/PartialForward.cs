using StreamAnalyzer.Pipeline.Model.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model;

/// <summary>
/// The part of a network between some layers and the head: given those layers' outputs (computed elsewhere, e.g.
/// by ONNX Runtime) it recomputes only what lies between them and the head, recording gradients from them. An
/// explanation then costs that part and its backward pass, not a second forward of the whole network.
/// </summary>
public sealed class PartialForward
{
    private readonly YoloModel _model;
    private readonly int[] _targets;
    private readonly int[] _roots;
    private readonly int[] _recomputed;

    /// <summary>Plans the recomputation from <paramref name="targets"/> (layer indices, not the head).</summary>
    /// <param name="model">The network.</param>
    /// <param name="targets">Layers whose outputs gradients are wanted for.</param>
    /// <param name="roots">
    /// Where the recomputation starts (the targets' outputs there become leaves, even where an earlier target feeds
    /// them); null: every target not fed by another target.
    /// </param>
    public PartialForward(YoloModel model, IReadOnlyCollection<int> targets, IReadOnlyCollection<int>? roots = null)
    {
        _model = model;
        _targets = targets.Distinct().Order().ToArray();
        var layers = model.Layers;
        // A layer is downstream when it reads a root or a downstream layer; targets fed that way are recomputed (so
        // gradients reach the roots through them), the roots are where the recomputation starts.
        var starts = roots?.ToHashSet() ?? [];
        var downstream = new bool[layers.Count];
        foreach (var t in roots ?? _targets) downstream[t] = true;
        var fed = new bool[layers.Count];
        for (int i = 0; i < layers.Count; i++)
        {
            if (starts.Contains(i)) continue;
            fed[i] = layers[i].From.Any(f => f >= 0 && downstream[f]);
            downstream[i] |= fed[i];
        }
        _roots = roots?.Distinct().Order().ToArray() ?? _targets.Where(t => !fed[t]).ToArray();
        if (_targets.Any(t => !_roots.Contains(t) && !fed[t]))
            throw new ArgumentException("every target must be a root or computed from one", nameof(targets));
        var needed = new bool[layers.Count];
        needed[model.HeadIndex] = true;
        foreach (var t in _targets) needed[t] = true;
        for (int i = layers.Count - 1; i >= 0; i--)
            if (needed[i]) foreach (var f in layers[i].From) if (f >= 0 && downstream[f]) needed[f] = true;
        _recomputed = Enumerable.Range(0, layers.Count).Where(i => needed[i] && fed[i]).ToArray();
        // Inputs of recomputed layers that are not recomputed themselves come from the full forward as they are.
        Inputs = _recomputed.SelectMany(i => layers[i].From).Where(f => f >= 0 && !_recomputed.Contains(f)).Concat(_roots).Distinct().Order().ToArray();
    }

    /// <summary>Layers whose outputs <see cref="Run"/> needs: the targets and the other inputs of the recomputed part.</summary>
    public IReadOnlyList<int> Inputs { get; }

    /// <summary>Layers recomputed (the head last).</summary>
    public IReadOnlyList<int> Recomputed => _recomputed;

    /// <summary>
    /// Recomputes the part above the targets from <paramref name="given"/> (outputs of <see cref="Inputs"/>). With
    /// <paramref name="gradients"/>, the targets become autograd leaves and the returned logits are in their graph.
    /// The returned <c>Activations</c> are the targets (leaves where the recomputation starts, graph nodes otherwise);
    /// <c>Pred</c> is the recomputed prediction.
    /// </summary>
    public ModelOutput Run(IReadOnlyDictionary<int, Tensor> given, bool gradients, int height, int width)
    {
        var outputs = new Dictionary<int, Tensor>();
        foreach (var i in Inputs)
            outputs[i] = gradients && _roots.Contains(i) ? given[i].detach().requires_grad_(true) : given[i];
        using var mode = gradients ? enable_grad() : no_grad();
        Tensor? pred = null, logits = null;
        foreach (var i in _recomputed)
        {
            var inputs = _model.Layers[i].From.Select(f => outputs[f]).ToArray();
            switch (_model.LayerModule(i))
            {
                case DetectionHead head:
                    (pred, logits) = head.ForwardHead(inputs);
                    break;
                case MultiInputLayer multi:
                    outputs[i] = multi.call(inputs);
                    break;
                case nn.Module<Tensor, Tensor> single:
                    outputs[i] = single.call(inputs[0]);
                    break;
            }
        }
        return new ModelOutput(pred!, logits!, _targets.ToDictionary(t => t, t => outputs[t]), new Dictionary<string, Tensor>(), height, width);
    }
}
