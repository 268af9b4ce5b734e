using StreamAnalyzer.Pipeline.Checkpoints;
using StreamAnalyzer.Pipeline.Model.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model;

/// <summary>
/// Builds a network from the pickled module tree itself, as the YOLOv5 and Ultralytics checkpoints carry it: the
/// layers of <c>model.model</c> in order, each connected by its <c>f</c> ("from") attribute, each module made by the
/// family's <see cref="ModuleFactory"/>. Widths, depths, scales and class counts need no config: they are what the
/// pickled modules are.
/// </summary>
internal static class ModuleTreeBuilder
{
    private delegate nn.Module Maker(CheckpointModule node, ModuleFactory build);

    /// <summary>The makers of YOLOv5's classes (ultralytics/yolov5 v6.0 and later).</summary>
    public static ModuleFactory Yolov5 { get; } = Factory(new()
    {
        ["models.common.Conv"] = Conv.FromNode,
        ["models.common.C3"] = C3.FromNode,
        ["models.common.Bottleneck"] = Bottleneck.FromNode,
        ["models.common.SPPF"] = Sppf.FromNode,
        ["models.common.SPP"] = Spp.FromNode,
        ["models.common.Focus"] = Focus.FromNode,
        ["models.common.Concat"] = (n, _) => new Concat(n.Long("d") ?? 1),
        ["models.yolo.Detect"] = (n, _) => AnchorDetectHead.FromYolov5Node(n, n.Path),
    });

    /// <summary>The makers of the <c>ultralytics</c> package's detection classes (YOLOv8, YOLO11, YOLOv5u).</summary>
    public static ModuleFactory Ultralytics { get; } = Factory(new()
    {
        ["ultralytics.nn.modules.conv.Conv"] = Conv.FromNode,
        ["ultralytics.nn.modules.conv.DWConv"] = Conv.FromNode,
        ["ultralytics.nn.modules.conv.Concat"] = (n, _) => new Concat(n.Long("d") ?? 1),
        ["ultralytics.nn.modules.block.C2f"] = C2f.FromNode,
        ["ultralytics.nn.modules.block.C2"] = C2.FromNode,
        ["ultralytics.nn.modules.block.C3k2"] = C2f.FromNode,
        ["ultralytics.nn.modules.block.C3"] = C3.FromNode,
        ["ultralytics.nn.modules.block.C3k"] = C3.FromNode,
        ["ultralytics.nn.modules.block.Bottleneck"] = Bottleneck.FromNode,
        ["ultralytics.nn.modules.block.SPPF"] = Sppf.FromNode,
        ["ultralytics.nn.modules.block.C2PSA"] = C2Psa.FromNode,
        ["ultralytics.nn.modules.block.PSABlock"] = PsaBlock.FromNode,
        ["ultralytics.nn.modules.block.Attention"] = Attention.FromNode,
        ["ultralytics.nn.modules.block.DFL"] = Dfl.FromNode,
        ["ultralytics.nn.modules.head.Detect"] = DflDetectHead.FromNode,
    });

    private static ModuleFactory Factory(Dictionary<string, Maker> own)
    {
        var all = new Dictionary<string, Func<CheckpointModule, ModuleFactory, nn.Module>>(ModuleFactory.TorchMakers, StringComparer.Ordinal);
        foreach (var (name, make) in own) all[name] = (n, f) => make(n, f);
        return new ModuleFactory(all);
    }

    /// <summary>Builds the layers of <paramref name="checkpoint"/>'s <c>model.model</c> with <paramref name="build"/>.</summary>
    /// <exception cref="ArchitectureException">A layer is missing, unsupported, or wired to a later layer.</exception>
    public static NetworkBlueprint Build(YoloCheckpoint checkpoint, ModuleFactory build)
    {
        var list = checkpoint.Root.Find("model") ?? throw new ArchitectureException("the model has no layer list 'model'");
        int count = list.Children.Count;
        var layers = new List<nn.Module>(count);
        var from = new List<int[]>(count);
        var modules = new List<string>(count);
        try
        {
            for (int i = 0; i < count; i++)
            {
                string where = $"layer {i}";
                var node = list.Find(i.ToString()) ?? throw new ArchitectureException($"{where} is missing from the layer list");
                int[] inputs = node.Attribute("f") switch
                {
                    long f => [(int)f],
                    List<object?> fs => fs.Select(v => v is long l ? (int)l : throw new ArchitectureException($"{where}: 'f' holds a non-integer")).ToArray(),
                    PyTuple t => t.Items.Select(v => v is long l ? (int)l : throw new ArchitectureException($"{where}: 'f' holds a non-integer")).ToArray(),
                    _ => throw new ArchitectureException($"{where} ({node.TypeName}) has no 'f' (its inputs)"),
                };
                var absolute = inputs.Select(f => f == -1 ? i - 1 : f < 0 ? i + f : f).ToArray();
                if (absolute.Any(f => f >= i || (f < 0 && i > 0)) || (i == 0 && inputs.Any(f => f != -1)))
                    throw new ArchitectureException($"{where}: input {string.Join(",", inputs)} does not refer to an earlier layer");
                var layer = build.Build(node);
                layers.Add(layer);
                from.Add(i == 0 ? [-1] : absolute);
                modules.Add(node.Type.Module.StartsWith("torch.nn.", StringComparison.Ordinal) ? "nn." + node.TypeName : node.TypeName);
                if (layer is DetectionHead && i != count - 1)
                    throw new ArchitectureException($"{where}: a detect head that is not the last layer is not supported");
                if (layer is not DetectionHead && i > 0 && inputs.Length > 1 && layer is not MultiInputLayer)
                    throw new ArchitectureException($"{where}: {node.TypeName} takes one input but 'f' lists {inputs.Length}");
            }
            if (layers.Count == 0 || layers[^1] is not DetectionHead head)
                throw new ArchitectureException("the last layer is not a detect head");
            return new NetworkBlueprint(layers, from, modules, head, from[^1]);
        }
        catch
        {
            foreach (var layer in layers) layer.Dispose();
            throw;
        }
    }
}
