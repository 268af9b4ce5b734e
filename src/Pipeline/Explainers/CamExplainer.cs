using StreamAnalyzer.Pipeline.Explainers.Methods;
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
        var targets = RequiredTargets;
        var layers = targets.Where(t => t.Submodule is null).Select(t => t.Layer).ToArray();
        var submodules = targets.Where(t => t.Submodule is not null).Select(t => t.Name).ToArray();
        // Submodule outputs need hooks inside the TorchSharp modules: those run the whole network there.
        if (onnx is null || submodules.Length > 0)
        {
            var output = model.Run(input, capture: layers, gradientFrom: Method.NeedsGradients ? layers : null, submodules: submodules);
            return new ExplainedForward(output, Method.NeedsGradients ? new GraphGradients(model, output, Target) : null);
        }
        int height = (int)input.shape[2], width = (int)input.shape[3];
        if (!Method.NeedsGradients) return new ExplainedForward(onnx.Run(input, layers), null);
        if (Layers.GradientRoots(model) is not null)
        {
            var windows = Windows();
            if (windows is not null)
            {
                var full = onnx.Run(input, layers);
                return new ExplainedForward(full, new WindowGradients(model, windows, full, Target, height, width));
            }
        }
        PartialForward partial;
        lock (_gate) partial = _partial ??= new PartialForward(model, layers, Layers.GradientRoots(model));
        var ort = onnx.Run(input, partial.Inputs);
        var top = partial.Run(ort.Activations, gradients: true, height, width);
        var combined = new ModelOutput(ort.Pred, top.Logits, top.Activations, top.Submodules, height, width);
        return new ExplainedForward(combined, new GraphGradients(model, combined, Target));
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
        var output = forward.Output;
        int height = output.InputHeight, width = output.InputWidth;
        var levels = detections.Select(d => model.LevelOfRow(d.Row, height, width)).ToArray();
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
            var targets = Layers.For(model, level);
            Tensor Activation(ExplainTarget t) => t.Submodule is null ? output.Activations[t.Layer] : output.Submodules[t.Name];
            // One backward per detection, for all its targets that reach its level; the others have zero gradient.
            var reaching = Reaching(level);
            var gradients = reaching.Count > 0 ? forward.Gradients!.Gradients(batchIndex, d, level, reaching) : new Dictionary<ExplainTarget, Tensor>();

            var maps = new List<(string Layer, float[]? Map)>();
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
                float[]? fused = null;
                if (informative.Count > 0)
                {
                    fused = informative[0];
                    foreach (var other in informative.Skip(1)) System.Numerics.Tensors.TensorPrimitives.Add(fused, other, fused);
                    if (!Renormalise(fused)) fused = null;
                }
                results[i] = new DetectionExplanation(d, [ToCamMap("neck", fused, height, width)]);
            }
            else
            {
                results[i] = new DetectionExplanation(d, maps.Select(m => ToCamMap(m.Layer, m.Map, height, width)).ToArray());
            }
        }
        return results;
    }

    // Upsample to the input (bilinear with pixel centres aligned, as the reference's align_corners=False) and
    // min-max normalise; null for a constant map, where the reference divides 0 by 0. Done by OpenCV and on the CPU
    // copy the map needs anyway: a handful of tensor operations per map would cost more than the map itself.
    private static float[]? Normalise(Tensor raw, int height, int width)
    {
        using var cpu = raw.to(ScalarType.Float32).cpu().contiguous();
        int h = (int)raw.shape[0], w = (int)raw.shape[1];
        var small = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(cpu.bytes).ToArray();
        var values = GC.AllocateUninitializedArray<float>(height * width); // every element is written by the resize
        unsafe
        {
            fixed (float* source = small, target = values)
            {
                using var from = OpenCvSharp.Mat.FromPixelData(h, w, OpenCvSharp.MatType.CV_32FC1, (IntPtr)source);
                using var to = OpenCvSharp.Mat.FromPixelData(height, width, OpenCvSharp.MatType.CV_32FC1, (IntPtr)target);
                OpenCvSharp.Cv2.Resize(from, to, new OpenCvSharp.Size(width, height), interpolation: OpenCvSharp.InterpolationFlags.Linear);
            }
        }
        return Renormalise(values) ? values : null;
    }

    private static bool Renormalise(float[] map)
    {
        float min = System.Numerics.Tensors.TensorPrimitives.Min(map), max = System.Numerics.Tensors.TensorPrimitives.Max(map);
        // Constant up to float rounding, relative to the map's own scale (gradients through deep random nets are tiny).
        if (!(max - min > 1e-6f * Math.Max(Math.Abs(max), Math.Abs(min))) || float.IsNaN(min) || float.IsNaN(max)) return false;
        // (x - min) / (max - min) as one affine pass (OpenCV's is several times faster than two TensorPrimitives passes).
        unsafe
        {
            fixed (float* values = map)
            {
                using var mat = OpenCvSharp.Mat.FromPixelData(1, map.Length, OpenCvSharp.MatType.CV_32FC1, (IntPtr)values);
                mat.ConvertTo(mat, OpenCvSharp.MatType.CV_32FC1, 1.0 / (max - min), -min / (double)(max - min));
                // The affine form rounds the ends to within 1e-9 of 0 and 1, on either side: clamp to [0, 1]. (Thresholds,
                // not Cv2.Max/Min with a scalar, which take 60 times as long.)
                OpenCvSharp.Cv2.Threshold(mat, mat, 0, 0, OpenCvSharp.ThresholdTypes.Tozero);
                OpenCvSharp.Cv2.Threshold(mat, mat, 1, 1, OpenCvSharp.ThresholdTypes.Trunc);
            }
        }
        return true;
    }

    private static CamMap ToCamMap(string layer, float[]? map, int height, int width) =>
        new(layer, width, height, map ?? new float[height * width], map is null);
}
