using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Methods;

/// <summary>GradCAM: channel weights are the spatial mean of the gradients.</summary>
public sealed class GradCam : CamMethod
{
    /// <inheritdoc/>
    public override string Name => "gradcam";

    /// <inheritdoc/>
    protected override Tensor Weights(Tensor activations, Tensor gradients) => gradients.mean([1, 2]);
}
