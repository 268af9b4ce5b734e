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

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs)
    {
        string softmax = g.Op("Softmax", [g.Transpose(g.Reshape(inputs[0], 0, 4, _bins, -1), 0, 2, 1, 3)], OnnxGraph.Int("axis", 1));
        return g.Reshape(g.Conv2d(conv, softmax), 0, 4, -1);
    }
}
