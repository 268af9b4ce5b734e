using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Runtime;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>Upstream <c>Shortcut</c>: the sum of its first two inputs (yolov7-e6e).</summary>
public sealed class Shortcut() : MultiInputLayer(nameof(Shortcut)), IOnnxExportable
{
    /// <inheritdoc/>
    public override Tensor forward(IReadOnlyList<Tensor> inputs) => inputs[0].Plus(inputs[1]);

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs) => g.Add(inputs[0], inputs[1]);


}
