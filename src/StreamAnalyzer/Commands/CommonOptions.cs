using System.CommandLine;

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

    public static Option<int> ImageSize() => new("--img-size", "--img", "--imgsz")
    {
        Description = "inference size in pixels (rounded up to a multiple of the model stride)",
        DefaultValueFactory = _ => 640,
    };

    /// <summary>The confidence threshold; without <paramref name="fallback"/>, the model family's default applies when the flag is absent.</summary>
    public static Option<float?> ConfThreshold(float? fallback = null) => new("--conf-thres", "--conf")
    {
        Description = "object confidence threshold, 0-1 (default: " + (fallback?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "the model family's: 0.25") + ")",
        DefaultValueFactory = _ => fallback,
    };

    public static Option<float?> IouThreshold() => new("--iou-thres", "--iou")
    {
        Description = "IoU threshold for NMS, 0-1 (default: the model family's: 0.45 YOLOv5/YOLOv7, 0.7 Ultralytics)",
    };

    public static Option<int?> MaxDetections() => new("--max-det")
    {
        Description = "most detections kept per image (default: the model family's: 300 YOLOv7/Ultralytics, 1000 YOLOv5)",
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
