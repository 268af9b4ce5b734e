using StreamAnalyzer.Pipeline.Runtime;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Methods;

/// <summary>XGradCAM: gradients weighted by the normalised activations, <c>w_k = sum(G A) / (sum(A) + eps)</c>.</summary>
public sealed class XGradCam : CamMethod
{
    /// <inheritdoc/>
    public override string Name => "xgradcam";

    /// <inheritdoc/>
    protected override Tensor Weights(Tensor activations, Tensor gradients) =>
        (gradients * activations).sum([1, 2]) / activations.sum([1, 2]).add(TorchScalars.Of(1e-7), TorchScalars.One);
}
