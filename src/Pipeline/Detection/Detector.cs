using System.Diagnostics;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Detection;

/// <summary>
/// Model + letterbox + NMS: frames in, detections on the original frames out, with per-stage timings.
/// Frames whose letterboxed inputs have the same size run as one batch.
/// </summary>
public sealed class Detector : IDisposable
{
    private readonly bool _ownsModel;
    private readonly OnnxRuntimeModel? _onnx;

    /// <summary>The ONNX Runtime session set the detector runs on, or null on TorchSharp (what perturbed images may also run on).</summary>
    public OnnxRuntimeModel? OnnxRuntime => _onnx;

    /// <summary>Wraps a loaded model. With <paramref name="ownsModel"/>, disposing the detector disposes the model.</summary>
    public Detector(YoloModel model, DetectorOptions options, bool ownsModel = false)
    {
        Model = model;
        _ownsModel = ownsModel;
        Device = options.Device ?? CPU;
        if (options.Half && Device.type != DeviceType.CUDA)
            throw new UserInputException("--half needs a CUDA device (float16 convolutions are not supported on the CPU)");
        // A class the model lacks would silently filter out everything (the web view's controls refuse it the same way).
        NmsOptions.EnsureClassesExist(options.Nms?.Classes?.Order(), model.Names.Count, "--classes: ");
        // What the flags leave open follows the family's own predict (e.g. IoU 0.7 for Ultralytics, 0.45 for YOLOv5/v7).
        Options = options with { Nms = (options.Nms ?? new NmsOptions()).WithDefaults(model.Family.Defaults) };
        LetterboxSettings = LetterboxOptions.Square(options.ImageSize, model.MaxStride, options.AutoPad, options.ScaleUp,
            model.Family.Defaults.RoundedPadding);
        model.to(Device);
        if (options.Half) model.half();
        Backend = options.Backend switch
        {
            InferenceBackend.Auto => Device.type == DeviceType.CPU ? InferenceBackend.Onnx : InferenceBackend.Torch,
            InferenceBackend.Onnx when Device.type != DeviceType.CPU =>
                throw new UserInputException("--backend onnx runs on the CPU; use --backend torch (or auto) with --device cuda"),
            var b => b,
        };
        if (Backend == InferenceBackend.Onnx) _onnx = new OnnxRuntimeModel(model, torch.get_num_threads());
    }

    /// <summary>What runs the forward pass of frames that are not explained (ONNX Runtime or TorchSharp).</summary>
    public InferenceBackend Backend { get; }

    /// <summary>
    /// Whether <see cref="Detect(IReadOnlyList{Mat}, CamExplainer?, int, NmsOptions?)"/> may run on several threads at once
    /// (ONNX Runtime sessions may; a TorchSharp forward pass gains nothing from it and is kept to one caller).
    /// </summary>
    public bool SupportsConcurrentCalls => _onnx is not null;

    /// <summary>
    /// ONNX Runtime intra-op threads per call (libtorch's count at start). Concurrent callers each set to their share
    /// of the cores run more frames per second than one caller with all of them: small convolutions scale poorly
    /// across threads.
    /// </summary>
    public int IntraOpThreads
    {
        get => _onnx?.Threads ?? torch.get_num_threads();
        set
        {
            if (_onnx is not null) _onnx.Threads = value;
        }
    }

    /// <summary>
    /// Whether ONNX Runtime's intra-op threads spin while waiting (its default; see
    /// <see cref="OnnxRuntimeModel.SpinWhileWaiting"/>). Pipelines turn it off for the cores' other stages.
    /// </summary>
    public bool SpinWhileWaiting
    {
        get => _onnx?.SpinWhileWaiting ?? false;
        set
        {
            if (_onnx is not null) _onnx.SpinWhileWaiting = value;
        }
    }

    /// <summary>Loads a checkpoint and creates a detector that owns the model.</summary>
    public static Detector Load(string weights, DetectorOptions options) => new(YoloModel.Load(weights), options, ownsModel: true);

    /// <summary>The network.</summary>
    public YoloModel Model { get; }

    /// <summary>The settings in force (NMS filled in).</summary>
    public DetectorOptions Options { get; }

    /// <summary>How frames are letterboxed.</summary>
    public LetterboxOptions LetterboxSettings { get; }

    /// <summary>Where the model runs.</summary>
    public Device Device { get; }

    /// <summary>Class names.</summary>
    public IReadOnlyList<string> Names => Model.Names;

    /// <summary>
    /// The forward pass alone on the configured backend: a letterboxed (B, 3, H, W) float32 batch in (made float16 here
    /// for a half-precision model), the prediction out (caller's dispose scope).
    /// </summary>
    public Tensor Forward(Tensor input)
    {
        if (_onnx is not null) return _onnx.Run(input).Pred;
        using var mode = inference_mode();
        return Model.forward(Options.Half && input.dtype != ScalarType.Float16 ? input.half() : input);
    }

    /// <summary>
    /// Does ahead of the first frame what the first detections of <paramref name="frameWidth"/> x
    /// <paramref name="frameHeight"/> frames, one per forward pass, would do once: the explainer's preparation (see
    /// <see cref="CamExplainer.Prepare(Model.Onnx.OnnxRuntimeModel?, int, int, int, int, bool)"/>) and ONNX Runtime's
    /// plain session, for runs with <paramref name="threads"/> intra-op threads and <paramref name="spin"/>. Meant for
    /// another thread while the first frame is on its way: building a session takes a few hundred milliseconds that the
    /// first frame would otherwise wait for.
    /// </summary>
    public void Prepare(int frameWidth, int frameHeight, CamExplainer? explainer, int threads, bool spin)
    {
        if (Options.Half) return;
        var plan = Letterbox.Plan(frameWidth, frameHeight, LetterboxSettings);
        explainer?.Prepare(_onnx, 1, plan.InputHeight, plan.InputWidth, threads, spin);
        _onnx?.Prepare(1, plan.InputHeight, plan.InputWidth, [], threads, spin);
    }

    /// <summary>Detects objects in each frame (8-bit BGR). The frames are not modified or disposed.</summary>
    public IReadOnlyList<DetectionResult> Detect(IReadOnlyList<Mat> frames) => Detect(frames, null, 0);

    /// <summary>Detects objects in one frame.</summary>
    public DetectionResult Detect(Mat frame) => Detect([frame])[0];

    /// <summary>
    /// Detects objects in each frame and, with an <paramref name="explainer"/>, explains the
    /// <paramref name="topK"/> most confident detections of each from the same forward pass.
    /// <paramref name="nms"/> replaces <see cref="Options"/>' post-processing for this call (it must be resolved).
    /// </summary>
    public IReadOnlyList<DetectionResult> Detect(IReadOnlyList<Mat> frames, CamExplainer? explainer, int topK, NmsOptions? nms = null)
    {
        if (nms is { IsResolved: false }) throw new ArgumentException("NMS settings must be resolved (see NmsOptions.WithDefaults)", nameof(nms));
        var results = new DetectionResult[frames.Count];
        var plans = frames.Select(f => Letterbox.Plan(f.Width, f.Height, LetterboxSettings)).ToArray();
        foreach (var group in Enumerable.Range(0, frames.Count).GroupBy(i => (plans[i].InputWidth, plans[i].InputHeight)))
        {
            int[] members = group.ToArray();
            foreach (var (index, result) in members.Zip(DetectBatch(members.Select(i => frames[i]).ToArray(), explainer, topK, nms ?? Options.Nms!)))
                results[index] = result;
        }
        return results;
    }

    private DetectionResult[] DetectBatch(Mat[] frames, CamExplainer? explainer, int topK, NmsOptions nmsOptions)
    {
        var clock = Stopwatch.StartNew();
        // With ONNX Runtime doing the forward pass, libtorch only does small work around it (NMS's candidate gate, the
        // explanations' recomputations and maps): one thread does that best. Its parallel regions cost more than they
        // save at these sizes, and each leaves an OpenMP worker spinning on the cores ONNX Runtime needs next: an
        // 80-class model's NMS gate (a max over 80 columns) slowed the next forward pass by 5-7 ms at 320 (bench).
        using var threads = _onnx is not null && explainer is not { Method.Perturbs: true } ? new TorchThreads(1) : null;
        using var scope = NewDisposeScope();
        // Autograd cannot use inference-mode tensors, so an explained batch runs under no_grad instead
        // (the model records the graph only above the target layers).
        using var mode = explainer is null ? inference_mode() : no_grad();
        var letterboxed = new Mat[frames.Length];
        var geometry = new LetterboxGeometry[frames.Length];
        Tensor input;
        try
        {
            for (int i = 0; i < frames.Length; i++) (letterboxed[i], geometry[i]) = Letterbox.Apply(frames[i], LetterboxSettings);
            input = InputTensor.FromImages(letterboxed, Device);
        }
        finally
        {
            foreach (var m in letterboxed) m?.Dispose();
        }
        if (Options.Half) input = input.half();
        double preprocess = clock.Elapsed.TotalMilliseconds;

        clock.Restart();
        var explained = explainer?.Forward(input, _onnx);
        var pred = explained?.Output.Pred ?? (_onnx is not null ? _onnx.Run(input).Pred : Model.forward(input));
        if (Device.type == DeviceType.CUDA) cuda.synchronize(Device);
        double forward = clock.Elapsed.TotalMilliseconds;

        clock.Restart();
        var kept = NonMaxSuppression.Run(pred, Model.Layout, nmsOptions);
        var detections = new Detection[frames.Length][];
        for (int i = 0; i < frames.Length; i++)
        {
            detections[i] = kept[i].Select(c => new Detection(geometry[i].ToSource(c.Box), c.Box, c.ClassId,
                c.ClassId < Names.Count ? Names[c.ClassId] : c.ClassId.ToString(), c.Score, c.Row)).ToArray();
        }
        double nms = clock.Elapsed.TotalMilliseconds;

        clock.Restart();
        var explanations = new IReadOnlyList<DetectionExplanation>?[frames.Length];
        if (explainer is not null && explained is not null)
            for (int i = 0; i < frames.Length; i++) explanations[i] = explainer.Explain(explained, i, detections[i].Take(topK).ToArray());
        double explain = clock.Elapsed.TotalMilliseconds;

        var timings = new StageTimings(preprocess / frames.Length, forward / frames.Length, nms / frames.Length, explain / frames.Length);
        return Enumerable.Range(0, frames.Length)
            .Select(i => new DetectionResult(detections[i], geometry[i], timings, explanations[i])).ToArray();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _onnx?.Dispose();
        if (_ownsModel) Model.Dispose();
    }
}
