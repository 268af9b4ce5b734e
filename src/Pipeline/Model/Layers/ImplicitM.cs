using StreamAnalyzer.Pipeline.Model.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>YOLOR implicit knowledge, multiplicative: <c>x * implicit</c>, <c>implicit</c> of shape (1, C, 1, 1).</summary>
public sealed class ImplicitM : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Parameter @implicit;

    /// <summary>Creates the module for <paramref name="channels"/> channels (values come from the checkpoint).</summary>
    public ImplicitM(long channels) : base(nameof(ImplicitM))
    {
        @implicit = new Parameter(ones(1, channels, 1, 1), requires_grad: false);
        RegisterComponents();
    }

    /// <summary>The learned scales, (1, C, 1, 1).</summary>
    public Tensor Value => @implicit;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => @implicit * x;

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs) => g.Mul(g.Weight(@implicit), inputs[0]);
}
