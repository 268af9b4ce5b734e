namespace StreamAnalyzer.Pipeline.Checkpoints;

/// <summary>
/// What the checkpoints of one YOLO family hold: the classes their pickles may name (kept as names, never run)
/// and the class of the model object. The reader accepts a pickle only when one profile accounts for every
/// class it names; adding a family means adding a profile here and its modules in <c>Model/</c>.
/// </summary>
public sealed class CheckpointProfile
{
    private CheckpointProfile(string family, string displayName, string[] modelClasses, string[] moduleClasses, string[] markers)
    {
        Family = family;
        DisplayName = displayName;
        ModelClasses = modelClasses.ToHashSet(StringComparer.Ordinal);
        ModuleClasses = moduleClasses.ToHashSet(StringComparer.Ordinal);
        Markers = markers.ToHashSet(StringComparer.Ordinal);
    }

    /// <summary>Short name: <c>yolov7</c>, <c>yolov5</c> or <c>ultralytics</c>.</summary>
    public string Family { get; }

    /// <summary>Name for messages, e.g. "Ultralytics (YOLOv8, YOLO11, YOLOv5u)".</summary>
    public string DisplayName { get; }

    /// <summary>Classes of the pickled model object (the <c>model</c>/<c>ema</c> entry).</summary>
    public IReadOnlySet<string> ModelClasses { get; }

    /// <summary>The family's own module classes the pickle may name (besides <see cref="TorchClasses"/>).</summary>
    public IReadOnlySet<string> ModuleClasses { get; }

    // Classes that tell this family apart from another one sharing its Python package (YOLOv5 and YOLOv7 both
    // live in models.common / models.yolo). Empty: the model class alone decides.
    private IReadOnlySet<string> Markers { get; }

    /// <summary>torch.nn modules the supported architectures are made of, in every family.</summary>
    public static IReadOnlySet<string> TorchClasses { get; } = new HashSet<string>(StringComparer.Ordinal)
    {
        "torch.nn.modules.conv.Conv2d", "torch.nn.modules.batchnorm.BatchNorm2d",
        "torch.nn.modules.activation.SiLU", "torch.nn.modules.activation.LeakyReLU", "torch.nn.modules.activation.ReLU",
        "torch.nn.modules.activation.Hardswish", "torch.nn.modules.activation.Sigmoid", "torch.nn.modules.activation.Mish",
        "torch.nn.modules.container.Sequential", "torch.nn.modules.container.ModuleList",
        "torch.nn.modules.pooling.MaxPool2d", "torch.nn.modules.upsampling.Upsample", "torch.nn.modules.linear.Identity",
    };

    /// <summary>YOLOv7 (WongKinYiu/yolov7): P5 and P6, deploy and training architectures.</summary>
    public static CheckpointProfile Yolov7 { get; } = new("yolov7", "YOLOv7",
        ["models.yolo.Model"],
        [
            "models.yolo.Detect", "models.yolo.IDetect", "models.yolo.IAuxDetect",
            "models.common.Conv", "models.common.Concat", "models.common.MP", "models.common.SP", "models.common.SPPCSPC",
            "models.common.RepConv", "models.common.ReOrg", "models.common.DownC", "models.common.Shortcut",
            "models.common.ImplicitA", "models.common.ImplicitM",
        ],
        []);

    /// <summary>YOLOv5 (ultralytics/yolov5, v6.0 and later; <c>models.yolo.Model</c> in v6.0-v6.1 files).</summary>
    public static CheckpointProfile Yolov5 { get; } = new("yolov5", "YOLOv5",
        ["models.yolo.DetectionModel", "models.yolo.Model"],
        [
            "models.yolo.Detect", "models.common.Conv", "models.common.C3", "models.common.Bottleneck", "models.common.SPPF",
            "models.common.SPP", "models.common.Focus", "models.common.Concat",
        ],
        ["models.yolo.DetectionModel", "models.common.C3", "models.common.Bottleneck", "models.common.SPPF", "models.common.SPP", "models.common.Focus"]);

    /// <summary>
    /// The <c>ultralytics</c> package: YOLOv8, YOLO11 and YOLOv5u detection models. Files written by 8.0.x name the
    /// modules as <c>ultralytics.nn.modules.Conv</c> (one module file then); those names are accepted as the same classes.
    /// </summary>
    public static CheckpointProfile Ultralytics { get; } = new("ultralytics", "Ultralytics (YOLOv8, YOLO11, YOLOv5u)",
        ["ultralytics.nn.tasks.DetectionModel"],
        WithLegacyNames(
        [
            "ultralytics.nn.modules.conv.Conv", "ultralytics.nn.modules.conv.DWConv", "ultralytics.nn.modules.conv.Concat",
            "ultralytics.nn.modules.block.C2f", "ultralytics.nn.modules.block.C2", "ultralytics.nn.modules.block.C3k2", "ultralytics.nn.modules.block.C3k",
            "ultralytics.nn.modules.block.C3", "ultralytics.nn.modules.block.Bottleneck", "ultralytics.nn.modules.block.SPPF",
            "ultralytics.nn.modules.block.C2PSA", "ultralytics.nn.modules.block.PSABlock", "ultralytics.nn.modules.block.Attention",
            "ultralytics.nn.modules.block.DFL", "ultralytics.nn.modules.head.Detect",
        ]),
        []);

    /// <summary>
    /// The name an Ultralytics 8.0.x file uses for a module class (<c>ultralytics.nn.modules.block.C2f</c> ->
    /// <c>ultralytics.nn.modules.C2f</c>), or the name itself.
    /// </summary>
    public static string CanonicalName(string fullName)
    {
        const string package = "ultralytics.nn.modules.";
        if (!fullName.StartsWith(package, StringComparison.Ordinal) || fullName.IndexOf('.', package.Length) >= 0) return fullName;
        string name = fullName[package.Length..];
        return Ultralytics.ModuleClasses.FirstOrDefault(c => c.StartsWith(package, StringComparison.Ordinal) && c.EndsWith("." + name, StringComparison.Ordinal)
            && c.Count(ch => ch == '.') == 4) ?? fullName;
    }

    private static string[] WithLegacyNames(string[] classes) =>
        [.. classes, .. classes.Select(c => "ultralytics.nn.modules." + c[(c.LastIndexOf('.') + 1)..])];

    /// <summary>Every profile, in the order they are tried.</summary>
    public static IReadOnlyList<CheckpointProfile> All { get; } = [Ultralytics, Yolov5, Yolov7];

    // Model classes of tasks other than detection: named so that the refusal says what the file is.
    private static readonly Dictionary<string, string> OtherTasks = new(StringComparer.Ordinal)
    {
        ["ultralytics.nn.tasks.SegmentationModel"] = "a segmentation model",
        ["ultralytics.nn.tasks.PoseModel"] = "a pose model",
        ["ultralytics.nn.tasks.ClassificationModel"] = "a classification model",
        ["ultralytics.nn.tasks.OBBModel"] = "an oriented-box (OBB) model",
        ["ultralytics.nn.tasks.RTDETRDetectionModel"] = "an RT-DETR model",
        ["ultralytics.nn.tasks.WorldModel"] = "a YOLO-World model",
        ["models.yolo.SegmentationModel"] = "a YOLOv5 segmentation model",
        ["models.yolo.ClassificationModel"] = "a YOLOv5 classification model",
        ["models.yolo.Segment"] = "a YOLOv5 segmentation head",
        ["ultralytics.nn.modules.head.Segment"] = "a segmentation head",
        ["ultralytics.nn.modules.head.Pose"] = "a pose head",
        ["ultralytics.nn.modules.head.OBB"] = "an oriented-box head",
        ["ultralytics.nn.modules.head.v10Detect"] = "a YOLOv10 (end-to-end) head",
    };

    /// <summary>
    /// Null when some family's checkpoint may name <paramref name="fullName"/> as a class; otherwise why it is refused.
    /// (Data constructors and storage classes are the unpickler's own business.)
    /// </summary>
    public static string? Refusal(string fullName)
    {
        if (TorchClasses.Contains(fullName) || All.Any(p => p.ModelClasses.Contains(fullName) || p.ModuleClasses.Contains(fullName)))
            return null;
        if (OtherTasks.TryGetValue(fullName, out var what))
            return $"'{fullName}' is {what}; StreamAnalyzer reads detection models only";
        return $"the pickle names '{fullName}', which is not a class of a supported checkpoint ({string.Join(", ", All.Select(p => p.DisplayName))})";
    }

    /// <summary>
    /// The profile that accounts for a model object of class <paramref name="modelClass"/> in a pickle naming
    /// <paramref name="classesNamed"/> (module classes only), or null.
    /// </summary>
    public static CheckpointProfile? Match(string modelClass, IReadOnlyCollection<string> classesNamed) =>
        All.FirstOrDefault(p => p.ModelClasses.Contains(modelClass)
            && classesNamed.All(c => TorchClasses.Contains(c) || p.ModelClasses.Contains(c) || p.ModuleClasses.Contains(c))
            && (p.Markers.Count == 0 || classesNamed.Any(p.Markers.Contains)));
}
