using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>YOLOv5's <c>Focus</c> (older releases): space-to-depth (as <see cref="ReOrg"/>) followed by a Conv.</summary>
public sealed class Focus : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Conv conv;

    private Focus(Conv conv) : base(nameof(Focus))
    {
        this.conv = conv;
        RegisterComponents();
    }

    internal static Focus FromNode(CheckpointModule node, ModuleFactory build) => new(build.Child<Conv>(node, "conv"));

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => conv.call(ReOrg.SpaceToDepth(x));

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs) => g.Module(conv, ReOrg.SpaceToDepth(g, inputs[0]));
}
