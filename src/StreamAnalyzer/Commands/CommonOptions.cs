using System.CommandLine;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>Options shared by several commands, named as in yolov7's detect.py.</summary>
internal static class CommonOptions
{
    public static Option<FileInfo> Weights() => new("--weights", "-w")
    {
        Description = "YOLOv7 checkpoint (.pt), as released upstream or written by its training code",
        Required = true,
    };

    public static Option<string> Device() => new("--device")
    {
        Description = "cpu, cuda or cuda:N",
        DefaultValueFactory = _ => "cpu",
    };

    public static Option<int> ImageSize() => new("--img-size", "--img", "--imgsz")
    {
        Description = "inference size in pixels (rounded up to a multiple of the model stride)",
        DefaultValueFactory = _ => 640,
    };

    public static Option<float> ConfThreshold(float fallback) => new("--conf-thres")
    {
        Description = "object confidence threshold",
        DefaultValueFactory = _ => fallback,
    };

    public static Option<float> IouThreshold() => new("--iou-thres")
    {
        Description = "IoU threshold for NMS",
        DefaultValueFactory = _ => 0.45f,
    };

    public static Option<int[]> Classes() => new("--classes")
    {
        Description = "keep only these class ids, e.g. --classes 0 2",
        AllowMultipleArgumentsPerToken = true,
    };

    public static IReadOnlySet<int>? ClassSet(int[]? classes) => classes is { Length: > 0 } ? classes.ToHashSet() : null;

    public static Option<bool> AgnosticNms() => new("--agnostic-nms") { Description = "class-agnostic NMS" };

    public static Option<bool> Half() => new("--half") { Description = "float16 inference (CUDA only)" };

    public static Option<bool> NoFuse() => new("--no-fuse")
    {
        Description = "keep BatchNorm, RepConv branches and implicit layers unfused",
    };
}
