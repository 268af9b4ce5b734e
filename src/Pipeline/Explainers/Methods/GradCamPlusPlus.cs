using StreamAnalyzer.Pipeline.Runtime;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Methods;

/// <summary>
/// GradCAM++ with the reference's formula: <c>alpha = G^2 / (2 G^2 + sum_uv(A G^3))</c> (denominator 1 where it
/// is 0, plus 1e-7), <c>w_k = sum_uv(alpha * relu(exp(score) G))</c>. The positive factor <c>exp(score)</c> scales
/// every weight alike and cancels in the min-max normalisation, so it is left out: the reference overflows to
/// inf x 0 = NaN for large logits, this never does.
/// </summary>
public sealed class GradCamPlusPlus : CamMethod
{
    /// <inheritdoc/>
    public override string Name => "gradcampp";

    /// <inheritdoc/>
    protected override Tensor Weights(Tensor activations, Tensor gradients)
    {
        var g2 = gradients.pow(TorchScalars.Of(2.0));
        var denominator = g2.mul(TorchScalars.Of(2.0)).Plus((activations * gradients.pow(TorchScalars.Of(3.0))).sum([1, 2], keepdim: true));
        denominator = where(denominator.ne(TorchScalars.Of(0.0)), denominator, ones_like(denominator));
        var alpha = g2 / denominator.add(TorchScalars.Of(1e-7), TorchScalars.One);
        return (alpha * nn.functional.relu(gradients)).sum([1, 2]);
    }
}
