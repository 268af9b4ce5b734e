using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>Upstream <c>Shortcut</c>: the sum of its first two inputs (yolov7-e6e).</summary>
public sealed class Shortcut() : MultiInputLayer(nameof(Shortcut))
{
    /// <inheritdoc/>
    public override Tensor forward(IReadOnlyList<Tensor> inputs) => inputs[0] + inputs[1];
}
