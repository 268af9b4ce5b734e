using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>
/// LeakyReLU with its slope held as a kept <see cref="Scalar"/>: TorchSharp's own module converts the slope at every
/// call into a scalar that can be finalised while libtorch still reads it (<see cref="TorchScalars"/>).
/// </summary>
public sealed class LeakyRelu : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Scalar _slope;

    /// <summary>Creates the activation with <paramref name="negativeSlope"/>.</summary>
    public LeakyRelu(double negativeSlope) : base(nameof(LeakyRelu))
    {
        NegativeSlope = negativeSlope;
        _slope = TorchScalars.Of(negativeSlope);
    }

    /// <summary>The slope for negative inputs.</summary>
    public double NegativeSlope { get; }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => x.leaky_relu(_slope);

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs) =>
        g.Op("LeakyRelu", [inputs[0]], OnnxGraph.Float("alpha", (float)NegativeSlope));
}
