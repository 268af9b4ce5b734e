using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>YOLOR implicit knowledge, additive: <c>x + implicit</c>, <c>implicit</c> of shape (1, C, 1, 1).</summary>
public sealed class ImplicitA : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Parameter @implicit;

    /// <summary>Creates the module for <paramref name="channels"/> channels (values come from the checkpoint).</summary>
    public ImplicitA(long channels) : base(nameof(ImplicitA))
    {
        @implicit = new Parameter(zeros(1, channels, 1, 1), requires_grad: false);
        RegisterComponents();
    }

    /// <summary>The learned offsets, (1, C, 1, 1).</summary>
    public Tensor Value => @implicit;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => @implicit.Plus(x);

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs) => g.Add(g.Weight(@implicit), inputs[0]);
}
