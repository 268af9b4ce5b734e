using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Methods;

/// <summary>GradCAM: channel weights are the spatial mean of the gradients.</summary>
public sealed class GradCam : CamMethod
{
    /// <inheritdoc/>
    public override string Name => "gradcam";

    /// <inheritdoc/>
    protected override Tensor Weights(Tensor activations, Tensor gradients) => gradients.mean([1, 2]);

    /// <inheritdoc/>
    protected override Tensor Weights(Tensor activations, WindowedGradient gradients)
    {
        // The mean over the map is the window's sum over the map's area: the zeros outside add nothing.
        using var area = ((double)gradients.Height * gradients.Width).ToScalar();
        return gradients.Values.sum([1, 2]).div_(area);
    }
}
