using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>
/// Ultralytics' distribution focal loss integral (<c>DFL</c>): for each box side, the softmax over <c>c1</c> bins
/// weighted by the bin index (the fixed 1x1 convolution <c>conv</c>), i.e. the expected distance in grid units.
/// </summary>
public sealed class Dfl : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Conv2d conv;
    private readonly long _bins;

    private Dfl(Conv2d conv, long bins) : base(nameof(Dfl))
    {
        this.conv = conv;
        _bins = bins;
        RegisterComponents();
    }

    internal static Dfl FromNode(CheckpointModule node, ModuleFactory build) =>
        new(build.Child<Conv2d>(node, "conv"), node.Long("c1") ?? throw new ArchitectureException($"'{node.Path}': DFL has no 'c1'"));

    /// <summary>(B, 4 x bins, A) side distributions to (B, 4, A) distances.</summary>
    public override Tensor forward(Tensor x)
    {
        long b = x.shape[0], a = x.shape[2];
        return conv.call(x.view(b, 4, _bins, a).transpose(2, 1).softmax(1)).view(b, 4, a);
    }

    // The softmax runs over the last axis (contiguous; over axis 1 of (B, bins, 4, A) it was 8 of 85 ms in
    // yolo11n at 640) and the bin-weighted sum is a MatMul with the 1x1 convolution's weights.
    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs)
    {
        string softmax = g.Op("Softmax", [g.Transpose(g.Reshape(inputs[0], 0, 4, _bins, -1), 0, 1, 3, 2)], OnnxGraph.Int("axis", 3));
        using var weight = conv.weight!.detach().to(ScalarType.Float32).cpu().reshape(_bins, 1);
        string sum = g.Op("MatMul", [softmax, g.Floats([_bins, 1], weight.data<float>().ToArray())]);
        if (conv.bias is { } bias) sum = g.Add(sum, g.Floats([1], [bias.detach().to(ScalarType.Float32).cpu().item<float>()]));
        return g.Reshape(sum, 0, 4, -1);
    }
}
