using StreamAnalyzer.Pipeline.Explainers.Methods;
using StreamAnalyzer.Pipeline.Explainers.Perturbation;
using StreamAnalyzer.Pipeline.Explainers.Targets;
using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Model.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>
/// Explains detections with a CAM method. The forward pass that detects also serves the explanation
/// (<see cref="Forward"/>, then <see cref="Explain(ExplainedForward, int, IReadOnlyList{Detection.Detection})"/>): only
/// dScore/dA is computed, with <c>autograd.grad</c> - no parameter gradients, no backward below the target layers.
/// On TorchSharp the network records the graph above the target layers; on ONNX Runtime the few layers between the
/// target layers and the head are recomputed with TorchSharp, on windows around the detections where that is exact.
/// </summary>
public sealed class CamExplainer(YoloModel model, CamMethod method, CamTarget target, LayerSelection layers, PerturbationOptions? perturbation = null)
{
    /// <summary>The method.</summary>
    public CamMethod Method { get; } = method;

    /// <summary>The target.</summary>
    public CamTarget Target { get; } = target;

    /// <summary>The layer choice.</summary>
    public LayerSelection Layers { get; } = layers;

    /// <summary>Seed, sample count and batch size of the perturbation methods and the faithfulness scores.</summary>
    public PerturbationOptions Perturbation { get; } = (perturbation ?? PerturbationOptions.Default).Validated();

    /// <summary>
    /// Steps of the deletion and insertion curves scored for each detection's first map (0: none). A cheap variant
    /// (<see cref="Faithfulness.FaithfulnessEvaluator.CheapSteps"/>) costs 2 x (steps + 1) forward passes per map.
    /// </summary>
    public int FaithfulnessSteps { get; init; }

    /// <summary>
    /// Takes gradients by a backward pass through the recorded graph even where windows around each detection apply
    /// (slower, same maps): the reference the windows are checked against.
    /// </summary>
    public bool WholeGraphGradients { get; init; }

    /// <summary>
    /// Takes the windows' gradients through libtorch's autograd even where the managed window program applies (float32
    /// on the CPU; slower, same maps): the path CUDA and half precision take, checked against the program.
    /// </summary>
    public bool TorchWindowGradients { get; init; }

    /// <summary>The targets a forward pass must capture (and take gradients from): none for methods that explain the input.</summary>
    public IReadOnlyList<ExplainTarget> RequiredTargets => Method.ExplainsInput ? [] : Layers.AllTargets(model);

    private readonly Lock _gate = new();
    private PartialForward? _partial;
    private LevelWindows? _windows;

    /// <summary>
    /// Whether <see cref="Forward"/> and <see cref="Explain(ExplainedForward, int, IReadOnlyList{Detection.Detection})"/>
    /// may run on several threads at once: not when a submodule is explained (its output is taken by a hook on the
    /// shared module).
    /// </summary>
    public bool SupportsConcurrentCalls => RequiredTargets.All(t => t.Submodule is null);

    /// <summary>
    /// Runs the forward pass explanations need: activations captured, gradients recorded from the target layers.
    /// With <paramref name="onnx"/>, ONNX Runtime runs the network (its prediction is the one detections come from);
    /// gradients then come from windows around the detections (<c>auto</c>, <c>neck</c>) or from recomputing the
    /// part between the target layers and the head with TorchSharp.
    /// </summary>
    public ExplainedForward Forward(Tensor input, OnnxRuntimeModel? onnx = null)
    {
        var (route, layers, submodules) = RouteFor(onnx is not null, input.dtype == ScalarType.Float32);
        int height = (int)input.shape[2], width = (int)input.shape[3];
        switch (route)
        {
            case Route.Windows:
                var full = onnx?.Run(input, layers) ?? model.Run(input, capture: layers);
                return new ExplainedForward(input, full, new WindowGradients(model, Windows()!, full, Target, height, width) { Managed = !TorchWindowGradients });
            case Route.Torch:
                var output = model.Run(input, capture: layers, gradientFrom: Method.NeedsGradients ? layers : null, submodules: submodules);
                return new ExplainedForward(input, output, Method.NeedsGradients ? new GraphGradients(model, output, Target) : null);
            case Route.OnnxActivations:
                return new ExplainedForward(input, onnx!.Run(input, layers), null, (Method.Perturbs || FaithfulnessSteps > 0) && input.device.type == DeviceType.CPU ? onnx : null);
            case Route.OnnxPartial:
                var partial = Partial(layers);
                var ort = onnx!.Run(input, partial.Inputs);
                var top = partial.Run(ort.Activations, gradients: true, height, width);
                var combined = new ModelOutput(ort.Pred, top.Logits, top.Activations, top.Submodules, height, width);
                return new ExplainedForward(input, combined, new GraphGradients(model, combined, Target));
            default:
                throw new System.Diagnostics.UnreachableException();
        }
    }

    /// <summary>
    /// Does ahead of the first frame what the first <see cref="Forward"/> of a (<paramref name="batch"/>, 3,
    /// <paramref name="height"/>, <paramref name="width"/>) float32 input would do once: measures the windows' reach
    /// and builds ONNX Runtime's session (with <paramref name="threads"/> and <paramref name="spin"/>, the settings the
    /// runs will have). Safe to call on another thread while frames are analysed: whichever comes first does the work,
    /// the other waits for it.
    /// </summary>
    public void Prepare(OnnxRuntimeModel? onnx, int batch, int height, int width, int threads, bool spin)
    {
        // The windows are measured by now in a pipeline (it starts that as it starts: the route took 0.1-0.3 ms when the
        // first frame was read, in six runs); elsewhere this measures them, or waits for a measurement under way.
        var (route, layers, _) = RouteFor(onnx: true, float32: true);
        if (onnx is null) return;
        switch (route)
        {
            case Route.Windows or Route.OnnxActivations:
                onnx.Prepare(batch, height, width, layers, threads, spin);
                break;
            case Route.OnnxPartial:
                onnx.Prepare(batch, height, width, Partial(layers).Inputs, threads, spin);
                break;
        }
    }

    /// <summary>Measures ahead what does not depend on the input: how far each level's windows reach.</summary>
    public void Prepare() => RouteFor(onnx: true, float32: true);

    // How a forward pass serves the explanation.
    private enum Route
    {
        // The target layers captured; each detection's gradients from a window around it.
        Windows,
        // TorchSharp runs the whole network, recording the graph above the target layers.
        Torch,
        // ONNX Runtime gives the activations; no gradients needed.
        OnnxActivations,
        // ONNX Runtime up to the target layers, TorchSharp recomputes the rest with gradients.
        OnnxPartial,
    }

    private (Route Route, int[] Layers, string[] Submodules) RouteFor(bool onnx, bool float32)
    {
        var targets = RequiredTargets;
        var layers = targets.Where(t => t.Submodule is null).Select(t => t.Layer).ToArray();
        var submodules = targets.Where(t => t.Submodule is not null).Select(t => t.Name).ToArray();
        // Where windows apply, the forward pass only captures the target layers (ONNX Runtime's, or TorchSharp's with no
        // graph recorded, e.g. on CUDA) and each detection's gradients come from its window, not a backward through the
        // network. On TorchSharp float32 only: half-precision models keep the whole-graph backward, the path checked in
        // fp16 on a GPU.
        if (Method.NeedsGradients && submodules.Length == 0 && !WholeGraphGradients && (onnx || float32)
            && Layers.GradientRoots(model) is not null && Windows() is not null)
            return (Route.Windows, layers, submodules);
        // Submodule outputs need hooks inside the TorchSharp modules: those run the whole network there.
        if (!onnx || submodules.Length > 0) return (Route.Torch, layers, submodules);
        return (Method.NeedsGradients ? Route.OnnxPartial : Route.OnnxActivations, layers, submodules);
    }

    private PartialForward Partial(int[] layers)
    {
        lock (_gate) return _partial ??= new PartialForward(model, layers, Layers.GradientRoots(model));
    }

    // Windows, once every level's reach has been measured (once, under the lock); null where some level has none.
    private LevelWindows? Windows()
    {
        lock (_gate)
        {
            _windows ??= new LevelWindows(model, Layers);
            return Enumerable.Range(0, model.HeadInputs.Count).All(l => _windows.Radius(l) is not null) ? _windows : null;
        }
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
    public IReadOnlyList<DetectionExplanation> Explain(ExplainedForward forward, int batchIndex, IReadOnlyList<Pipeline.Detection.Detection> detections)
    {
        if (detections.Count == 0) return [];
        var explanations = Maps(forward, batchIndex, detections);
        if (FaithfulnessSteps <= 0) return explanations;
        var evaluator = new Faithfulness.FaithfulnessEvaluator(model, Perturbation, FaithfulnessSteps, forward.Onnx);
        using var scope = NewDisposeScope();
        var input = forward.Input[batchIndex];
        return explanations.Select(e => e.Maps[0].IsConstant ? e : e with
        {
            Maps = [e.Maps[0] with { Faithfulness = evaluator.Evaluate(input, e.Detection, e.Maps[0].Values) }, .. e.Maps.Skip(1)],
        }).ToArray();
    }

    private IReadOnlyList<DetectionExplanation> Maps(ExplainedForward forward, int batchIndex, IReadOnlyList<Pipeline.Detection.Detection> detections)
    {
        var output = forward.Output;
        int height = output.InputHeight, width = output.InputWidth;
        var levels = detections.Select(d => model.LevelOfRow(d.Row, height, width)).ToArray();
        var input = forward.Input[batchIndex];
        Tensor Activation(ExplainTarget t)
        {
            var activations = (t.Submodule is null ? output.Activations[t.Layer] : output.Submodules[t.Name])[batchIndex].detach();
            if (activations.dim() != 3)
                throw new Runtime.UserInputException($"--layers {t.Name}: its output is not a feature map (shape {string.Join("x", activations.shape)}); choose a convolutional layer or submodule");
            return activations;
        }
        if (Method.ExplainsInput)
        {
            using var inputScope = NewDisposeScope();
            var contexts = detections.Select((d, i) => new CamContext(model, input, d, levels[i], Activation, () => new Dictionary<ExplainTarget, WindowedGradient>(), Perturbation, forward.Onnx)).ToArray();
            var raw = Method.InputMaps(contexts);
            return detections.Select((d, i) => new DetectionExplanation(d,
                [ToCamMap("input", raw[i] is null ? null : Method.ToInputSize(raw[i]!, height, width), height, width)])).ToArray();
        }
        var results = new DetectionExplanation[detections.Count];
        // Scores come out of recorded graphs: those must be recorded too, whatever the caller's grad mode.
        using var grad = enable_grad();
        IReadOnlyList<ExplainTarget> Reaching(int level) => Method.NeedsGradients
            ? Layers.For(model, level).Where(t => model.LevelsFedBy(t.Layer, t.Submodule).Contains(level)).ToArray()
            : [];
        forward.Gradients?.Prepare(batchIndex, detections.Select((d, i) => (d, levels[i], Reaching(levels[i]))).ToArray());
        for (int i = 0; i < detections.Count; i++)
        {
            var d = detections[i];
            int level = levels[i];
            using var scope = NewDisposeScope();
            // One backward per detection, for all its targets that reach its level; the others have zero gradient.
            var reaching = Reaching(level);
            var context = new CamContext(model, input, d, level, Activation,
                () => reaching.Count > 0 ? forward.Gradients!.Gradients(batchIndex, d, level, reaching) : new Dictionary<ExplainTarget, WindowedGradient>(), Perturbation,
                forward.Onnx);
            var maps = new List<(string Layer, float[]? Map)>();
            foreach (var t in Layers.For(model, level))
            {
                var raw = Method.Map(context, t);
                maps.Add((t.Name, raw is null ? null : Method.ToInputSize(raw, height, width)));
            }
            results[i] = Layers.Fuses
                ? new DetectionExplanation(d, [ToCamMap("neck", Method.Fuse(maps.Where(m => m.Map is not null).Select(m => m.Map!).ToList()), height, width)])
                : new DetectionExplanation(d, maps.Select(m => ToCamMap(m.Layer, m.Map, height, width)).ToArray());
        }
        return results;
    }

    private static CamMap ToCamMap(string layer, float[]? map, int height, int width) =>
        new(layer, width, height, map ?? new float[height * width], map is null);
}
