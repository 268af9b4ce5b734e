using StreamAnalyzer.Pipeline.Checkpoints;

namespace StreamAnalyzer.Pipeline.Model;

/// <summary>
/// One YOLO family: how its checkpoints are recognised (<see cref="CheckpointProfile"/>), how its network is built,
/// and the defaults of its own predict script. Adding a family means adding its profile, its modules and one of these.
/// </summary>
public sealed class ModelFamily
{
    private readonly Func<YoloCheckpoint, NetworkBlueprint> _build;

    private ModelFamily(CheckpointProfile profile, PredictDefaults defaults, Func<YoloCheckpoint, NetworkBlueprint> build)
    {
        Profile = profile;
        Defaults = defaults;
        _build = build;
    }

    /// <summary>How its checkpoints are recognised.</summary>
    public CheckpointProfile Profile { get; }

    /// <summary>Short name: <c>yolov7</c>, <c>yolov5</c>, <c>ultralytics</c>.</summary>
    public string Name => Profile.Family;

    /// <summary>Name for people.</summary>
    public string DisplayName => Profile.DisplayName;

    /// <summary>The post-processing settings of the family's own predict script.</summary>
    public PredictDefaults Defaults { get; }

    /// <summary>YOLOv7: network rebuilt from the stored architecture config, as upstream's <c>parse_model</c>.</summary>
    public static ModelFamily Yolov7 { get; } = new(CheckpointProfile.Yolov7,
        new PredictDefaults(0.25f, 0.45f, 300, 4096, SingleClassUsesObjectness: true, RoundedPadding: false, "yolov7 detect.py"),
        c => YoloNetworkBuilder.Build(c.Yaml, c.Root));

    /// <summary>YOLOv5: network built from the pickled module tree.</summary>
    public static ModelFamily Yolov5 { get; } = new(CheckpointProfile.Yolov5,
        new PredictDefaults(0.25f, 0.45f, 1000, 7680, SingleClassUsesObjectness: false, RoundedPadding: false, "yolov5 detect.py"),
        c => ModuleTreeBuilder.Build(c, ModuleTreeBuilder.Yolov5));

    /// <summary>Ultralytics YOLOv8 / YOLO11 / YOLOv5u: network built from the pickled module tree.</summary>
    public static ModelFamily Ultralytics { get; } = new(CheckpointProfile.Ultralytics,
        new PredictDefaults(0.25f, 0.7f, 300, 7680, SingleClassUsesObjectness: false, RoundedPadding: true, "ultralytics YOLO.predict"),
        c => ModuleTreeBuilder.Build(c, ModuleTreeBuilder.Ultralytics));

    /// <summary>Every family.</summary>
    public static IReadOnlyList<ModelFamily> All { get; } = [Yolov7, Yolov5, Ultralytics];

    /// <summary>The family of a checkpoint profile.</summary>
    public static ModelFamily Of(CheckpointProfile profile) => All.Single(f => ReferenceEquals(f.Profile, profile));

    internal NetworkBlueprint Build(YoloCheckpoint checkpoint) => _build(checkpoint);

    /// <inheritdoc/>
    public override string ToString() => DisplayName;
}
