using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>
/// Builds TorchSharp building blocks with the hyper-parameters stored in the checkpoint's pickled modules
/// (BatchNorm eps, convolution stride/padding/groups, pooling and upsampling settings, activation slopes),
/// falling back to what the architecture config implies where a module is absent.
/// </summary>
internal static class ModuleHints
{
    /// <summary>BatchNorm eps that upstream YOLOv7 sets at model init (used only when the file does not say).</summary>
    public const double UpstreamBatchNormEps = 1e-3;

    /// <summary>More channels than any YOLO layer has: a file declaring more is refused before anything is allocated.</summary>
    public const long MaxChannels = 16384;

    public static Conv2d Conv2d(CheckpointModule? node, long cin, long cout, long k, long s, long p, long g, bool bias)
    {
        var (kh, kw) = node?.Pair("kernel_size") ?? (k, k);
        var stride = node?.Pair("stride") ?? (s, s);
        var padding = node?.Pair("padding") ?? (p, p);
        var dilation = node?.Pair("dilation") ?? (1, 1);
        long groups = node?.Attribute("groups") as long? ?? g;
        bool hasBias = node is null ? bias : node.Parameters.ContainsKey("bias");
        string where = node?.Path ?? "a convolution";
        if (cin < 1 || cout < 1 || cin > MaxChannels || cout > MaxChannels || groups < 1 || cin % groups != 0 || cout % groups != 0)
            throw new ArchitectureException($"'{where}': {cin} -> {cout} channels in {groups} groups is not a valid convolution");
        if (kh is < 1 or > 15 || kw is < 1 or > 15 || stride.Item1 is < 1 or > 8 || stride.Item2 is < 1 or > 8 || padding.Item1 is < 0 or > 15
            || padding.Item2 is < 0 or > 15 || dilation.Item1 is < 1 or > 8 || dilation.Item2 is < 1 or > 8)
            throw new ArchitectureException($"'{where}': kernel {kh}x{kw}, stride {stride}, padding {padding}, dilation {dilation} is outside what YOLO models use");
        // The stored weights must have the declared shape: parameters are only allocated for a consistent module.
        if (node?.Parameters.GetValueOrDefault("weight") is { } weight && !weight.Size.SequenceEqual([cout, cin / groups, kh, kw]))
            throw new ArchitectureException($"'{where}.weight' has shape {weight.ShapeText} in the checkpoint but the module declares ({cout}, {cin / groups}, {kh}, {kw})");
        return nn.Conv2d(cin, cout, (kh, kw), stride, padding, dilation, groups: groups, bias: hasBias);
    }

    /// <summary>The child at <paramref name="relativePath"/> of a pickled module, or an error naming what is missing.</summary>
    public static CheckpointModule Child(CheckpointModule node, string relativePath) =>
        node.Find(relativePath) ?? throw new ArchitectureException($"'{node.Path}' ({node.TypeName}) has no submodule '{relativePath}'");

    /// <summary>A convolution shaped entirely by its pickled module (channels, kernel, stride, padding, groups, bias).</summary>
    public static Conv2d Conv2d(CheckpointModule node, string where)
    {
        long cin = node.Long("in_channels") ?? throw new ArchitectureException($"{where}: Conv2d has no 'in_channels'");
        long cout = node.Long("out_channels") ?? throw new ArchitectureException($"{where}: Conv2d has no 'out_channels'");
        if (node.Attribute("padding") is string mode)
            throw new ArchitectureException($"{where}: Conv2d padding '{mode}' is not supported");
        return Conv2d(node, cin, cout, 1, 1, 0, 1, true);
    }

    public static BatchNorm2d BatchNorm2d(CheckpointModule? node, long features)
    {
        if (features is < 1 or > MaxChannels) throw new ArchitectureException($"'{node?.Path}': BatchNorm2d of {features} features is not valid");
        return nn.BatchNorm2d(features, eps: node?.Double("eps") ?? UpstreamBatchNormEps, momentum: node?.Double("momentum") ?? 0.03);
    }

    public static MaxPool2d MaxPool2d(CheckpointModule? node, long k, long s, long p)
    {
        var kernel = node?.Pair("kernel_size") ?? (k, k);
        var stride = node?.Pair("stride") ?? (s, s);
        var padding = node?.Pair("padding") ?? (p, p);
        if (kernel.Item1 is < 1 or > 32 || kernel.Item2 is < 1 or > 32 || stride.Item1 is < 1 or > 32 || stride.Item2 is < 1 or > 32
            || padding.Item1 < 0 || padding.Item2 < 0 || padding.Item1 * 2 > kernel.Item1 || padding.Item2 * 2 > kernel.Item2)
            throw new ArchitectureException($"'{node?.Path}': max-pool kernel {kernel}, stride {stride}, padding {padding} is not valid");
        bool ceil = node?.Attribute("ceil_mode") as bool? ?? false;
        return nn.MaxPool2d([kernel.Item1, kernel.Item2], [stride.Item1, stride.Item2], [padding.Item1, padding.Item2], ceil_mode: ceil);
    }

    /// <summary>Nearest-neighbour upsampling by the factor the pickled <c>nn.Upsample</c> (or the config) gives.</summary>
    public static nn.Module<Tensor, Tensor> Upsample(CheckpointModule? node, string where, double fallbackScale = 2, string fallbackMode = "nearest")
    {
        double scale = node?.Attribute("scale_factor") switch
        {
            double d => d,
            long l => l,
            PyTuple { Items: [var a, ..] } => a is double d ? d : a is long l ? l : fallbackScale,
            _ => fallbackScale,
        };
        string mode = node?.Attribute("mode") as string ?? fallbackMode;
        if (scale is not (1 or 2 or 4 or 8)) throw new ArchitectureException($"{where}: nn.Upsample by {scale} is not supported (YOLO models upsample by 2)");
        if (mode != "nearest") throw new ArchitectureException($"{where}: nn.Upsample mode '{mode}' is not supported");
        if (node?.Attribute("size") is not null and not PyNone) throw new ArchitectureException($"{where}: nn.Upsample to a fixed size is not supported");
        return nn.Upsample(scale_factor: [scale, scale], mode: UpsampleMode.Nearest);
    }

    /// <summary>The activation of a Conv/RepConv: taken from the pickled module when present, else from the config argument.</summary>
    public static nn.Module<Tensor, Tensor> Activation(CheckpointModule? node, ActivationSpec fallback, string where)
    {
        var spec = node is null ? fallback : node.TypeName switch
        {
            "SiLU" => new ActivationSpec("SiLU", 0),
            "LeakyReLU" => new ActivationSpec("LeakyReLU", node.Double("negative_slope") ?? 0.01),
            "ReLU" => new ActivationSpec("ReLU", 0),
            "Identity" => new ActivationSpec("Identity", 0),
            "Hardswish" => new ActivationSpec("Hardswish", 0),
            "Sigmoid" => new ActivationSpec("Sigmoid", 0),
            "Mish" => new ActivationSpec("Mish", 0),
            var other => throw new ArchitectureException($"{where}: activation '{other}' is not supported"),
        };
        return spec.Create();
    }
}
