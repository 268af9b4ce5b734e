using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Methods;

/// <summary>LayerCAM: activations weighted element-wise by the positive gradients.</summary>
public sealed class LayerCam : CamMethod
{
    /// <inheritdoc/>
    public override string Name => "layercam";

    /// <inheritdoc/>
    public override bool IsElementWise => true;

    /// <inheritdoc/>
    protected override Tensor RawMap(Tensor activations, Tensor? gradients) => (nn.functional.relu(gradients!) * activations).sum(0L);
}
