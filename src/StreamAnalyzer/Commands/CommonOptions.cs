using System.CommandLine;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>Options shared by several commands, named as in the upstream detect.py scripts.</summary>
internal static class CommonOptions
{
    public static Option<FileInfo> Weights() => new("--weights", "-w")
    {
        Description = "checkpoint (.pt) of YOLOv7, YOLOv5 or Ultralytics YOLOv8/YOLO11/YOLOv5u, as released upstream or written by its training code",
        Required = true,
    };

    public static Option<string> Device() => new("--device")
    {
        Description = "cpu, cuda or cuda:N",
        DefaultValueFactory = _ => "cpu",
    };

    public static Option<int> ImageSize() => new Option<int>("--img-size", "--img", "--imgsz")
    {
        Description = "inference size in pixels (rounded up to a multiple of the model stride, with a notice)",
        DefaultValueFactory = _ => 640,
    }.InRange(1, 16384);

    /// <summary>The confidence threshold; without <paramref name="fallback"/>, the model family's default applies when the flag is absent.</summary>
    public static Option<float?> ConfThreshold(float? fallback = null) => new Option<float?>("--conf-thres", "--conf")
    {
        // With a fixed default, help shows it as [default: ...] itself.
        Description = "object confidence threshold, 0-1" + (fallback is null ? " (default: the model family's: 0.25)" : ""),
        DefaultValueFactory = _ => fallback,
    }.InRange(0, 1);

    public static Option<float?> IouThreshold() => new Option<float?>("--iou-thres", "--iou")
    {
        Description = "IoU threshold for NMS, 0-1 (default: the model family's: 0.45 YOLOv5/YOLOv7, 0.7 Ultralytics)",
    }.InRange(0, 1);

    public static Option<int?> MaxDetections() => new Option<int?>("--max-det")
    {
        Description = "most detections kept per image (default: the model family's: 300 YOLOv7/Ultralytics, 1000 YOLOv5)",
    }.AtLeast(1);

    public static Option<int[]> Classes() => new Option<int[]>("--classes")
    {
        Description = "keep only these class ids, e.g. --classes 0 2",
        AllowMultipleArgumentsPerToken = true,
    }.EachAtLeast(0);

    /// <summary>A CAM method flag (<c>--method</c> or <c>--cam-method</c>), checked when parsed.</summary>
    public static Option<string> CamMethodOption(string name) => new Option<string>(name)
    {
        Description = Pipeline.Explainers.Methods.CamMethods.Help,
        DefaultValueFactory = _ => "gradcam",
    }.Parses(m => Pipeline.Explainers.Methods.CamMethod.Parse(m));

    /// <summary>A CAM target flag (<c>--target</c> or <c>--cam-target</c>), checked when parsed.</summary>
    public static Option<string> CamTargetOption(string name) => new Option<string>(name)
    {
        Description = "what is differentiated: logit (class logit), prob (class probability), conf (objectness x class, or class alone without objectness)",
        DefaultValueFactory = _ => "logit",
    }.Parses(t => Pipeline.Explainers.Targets.CamTarget.Parse(t));

    /// <summary>Seed of the perturbation methods' random masks and samples.</summary>
    public static Option<int> Seed() => new Option<int>("--seed")
    {
        Description = "seed of the random masks and samples of drise and lime (and of the faithfulness scores' tie-breaking): the same seed gives the same maps",
        DefaultValueFactory = _ => 0,
    }.AtLeast(0);

    /// <summary>Sample count of the perturbation methods.</summary>
    public static Option<int> Samples() => new Option<int>("--samples")
    {
        Description = "drise: masks per image (default 500); lime: samples per image (default 300); scorecam: most activation channels used per layer (default 32). 0: the method's default",
        DefaultValueFactory = _ => 0,
    }.AtLeast(0);

    /// <summary>Batch size of the perturbed images.</summary>
    public static Option<int> PerturbationBatch() => new Option<int>("--perturbation-batch")
    {
        Description = "perturbed images per forward pass (drise, lime, scorecam, faithfulness scores)",
        DefaultValueFactory = _ => 16,
    }.InRange(1, 4096);

    /// <summary>Detections explained per image or frame.</summary>
    public static Option<int> TopK() => new Option<int>("--top-k")
    {
        Description = "explain the K most confident detections",
        DefaultValueFactory = _ => 3,
    }.AtLeast(1);

    /// <summary>Heatmap opacity.</summary>
    public static Option<double> Alpha() => new Option<double>("--alpha")
    {
        Description = "heatmap opacity, 0-1",
        DefaultValueFactory = _ => 0.5,
    }.InRange(0, 1);

    public static IReadOnlySet<int>? ClassSet(int[]? classes) => classes is { Length: > 0 } ? classes.ToHashSet() : null;

    public static Option<bool> AgnosticNms() => new("--agnostic-nms") { Description = "class-agnostic NMS" };

    // No DefaultValueFactory: help would print "[default: Auto]"; an absent flag reads as member 0, Auto.
    public static Option<InferenceBackend> Backend() => new Option<InferenceBackend>("--backend")
    {
        Description = "what runs the forward pass: auto (the default: ONNX Runtime on the CPU, TorchSharp on CUDA), onnx or torch; explanations' gradients always use TorchSharp",
    }.OneOf();

    /// <summary><c>--tf32</c>: TF32 for float32 work on CUDA (faster, not the CPU's numbers); off by default.</summary>
    public static Option<bool> Tf32() => new("--tf32")
    {
        Description = "on CUDA, let float32 convolutions and matrix products use TF32: faster on recent GPUs, but boxes and scores " +
            "then differ from the CPU's (and upstream's reference) by up to a few pixels; off by default",
    };

    /// <summary>Resolves <c>--device</c> with <c>--tf32</c>, noting that TF32 means nothing on the CPU.</summary>
    public static TorchSharp.torch.Device ResolveDevice(string? device, bool tf32)
    {
        var resolved = ComputeDevice.Resolve(device, tf32);
        if (tf32 && resolved.type != TorchSharp.DeviceType.CUDA) Console.Error.WriteLine("note: --tf32 applies to CUDA devices; ignored on the CPU");
        return resolved;
    }

    public static Option<bool> Half() => new("--half") { Description = "float16 inference (CUDA only)" };

    public static Option<bool> NoFuse() => new("--no-fuse")
    {
        Description = "keep BatchNorm, RepConv branches and implicit layers unfused",
    };

    /// <summary><c>--workers</c>: batches analysed at once (0 = automatic).</summary>
    public static Option<int> Workers() => new Option<int>("--workers")
    {
        Description = "batches analysed at once, each with its share of the threads (0 = auto: 2 for files on onnx, 1 for live sources)",
        DefaultValueFactory = _ => 0,
    }.InRange(0, 16);
}
