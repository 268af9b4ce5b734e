using StreamAnalyzer.Pipeline.Model.Onnx;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>Upstream <c>Concat</c>: concatenation along a dimension (channels by default).</summary>
public sealed class Concat(long dimension = 1) : MultiInputLayer(nameof(Concat)), IOnnxExportable
{
    /// <inheritdoc/>
    public override Tensor forward(IReadOnlyList<Tensor> inputs) => cat(inputs.ToList(), dimension);

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs) => g.Concat(inputs, dimension);
}
