using StreamAnalyzer.Pipeline.Explainers.Perturbation;
using StreamAnalyzer.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>
/// What a CAM method is given to explain one detection: the input, the detection, the explained layers'
/// activations, their gradients on demand, and a batched "run the model again on these inputs".
/// Tensors belong to the explanation's dispose scope.
/// </summary>
public sealed class CamContext
{
    private readonly Func<ExplainTarget, Tensor> _activations;
    private readonly Func<IReadOnlyDictionary<ExplainTarget, WindowedGradient>> _gradients;
    private IReadOnlyDictionary<ExplainTarget, WindowedGradient>? _computed;
    private readonly Dictionary<ExplainTarget, Tensor> _dense = [];

    internal CamContext(YoloModel model, Tensor input, Detection.Detection target, int level, Func<ExplainTarget, Tensor> activations,
        Func<IReadOnlyDictionary<ExplainTarget, WindowedGradient>> gradients, PerturbationOptions perturbation, Model.Onnx.OnnxRuntimeModel? onnx)
    {
        Model = model;
        Input = input;
        Target = target;
        Level = level;
        _activations = activations;
        _gradients = gradients;
        Rerun = new PerturbedScoring(model, perturbation, onnx);
    }

    /// <summary>The model explained.</summary>
    public YoloModel Model { get; }

    /// <summary>This image's letterboxed input (3, H, W): RGB in [0, 1].</summary>
    public Tensor Input { get; }

    /// <summary>Input height.</summary>
    public int Height => (int)Input.shape[1];

    /// <summary>Input width.</summary>
    public int Width => (int)Input.shape[2];

    /// <summary>The detection explained (its <see cref="Detection.Detection.InputBox"/> is in input pixels).</summary>
    public Detection.Detection Target { get; }

    /// <summary>The detection's level in the head.</summary>
    public int Level { get; }

    /// <summary>Seed, sample count and batch size for methods that perturb the input.</summary>
    public PerturbationOptions Perturbation => Rerun.Options;

    /// <summary>Runs the model again on perturbed inputs, in batches, and scores detections in them.</summary>
    public PerturbedScoring Rerun { get; }

    /// <summary>The output of <paramref name="target"/> for this image (C, h, w), detached.</summary>
    public Tensor Activations(ExplainTarget target) => _activations(target);

    /// <summary>
    /// dScore/dA of the detection at <paramref name="target"/> (C, h, w), or null where that layer does not reach the
    /// detection's level (its map is constant). Computed on first use, one backward for all the explained layers.
    /// </summary>
    public Tensor? Gradients(ExplainTarget target)
    {
        if (_dense.TryGetValue(target, out var dense)) return dense;
        return GradientWindow(target) is { } g ? _dense[target] = g.ToDense() : null;
    }

    /// <summary>
    /// The same gradient given on the window where it can be non-zero (the whole map where it was taken through the
    /// whole graph), or null as for <see cref="Gradients"/>.
    /// </summary>
    public WindowedGradient? GradientWindow(ExplainTarget target) => (_computed ??= _gradients()).TryGetValue(target, out var g) ? g : null;
}
