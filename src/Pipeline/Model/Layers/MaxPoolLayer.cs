using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>Upstream <c>MP</c> (k x k pooling with stride k) and <c>SP</c> (k x k, stride s, same padding): one max-pool <c>m</c>.</summary>
public sealed class MaxPoolLayer : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly MaxPool2d m;

    private MaxPoolLayer(MaxPool2d m) : base(nameof(MaxPoolLayer))
    {
        this.m = m;
        RegisterComponents();
    }

    /// <summary><c>MP(k=2)</c>.</summary>
    internal static MaxPoolLayer MP(CheckpointModule? node, long k) => new(ModuleHints.MaxPool2d(node?.Find("m"), k, k, 0));

    /// <summary><c>SP(k=3, s=1)</c>.</summary>
    internal static MaxPoolLayer SP(CheckpointModule? node, long k, long s) => new(ModuleHints.MaxPool2d(node?.Find("m"), k, s, k / 2));

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => m.call(x);

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs) => g.Module(m, inputs[0]);
}
