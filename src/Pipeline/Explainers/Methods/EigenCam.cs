using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Methods;

/// <summary>
/// EigenCAM: the first principal component of the activations (no gradients, so not class- or box-specific).
/// The component's sign is chosen so that it agrees with the mean activation.
/// </summary>
public sealed class EigenCam : CamMethod
{
    /// <inheritdoc/>
    public override string Name => "eigencam";

    /// <inheritdoc/>
    public override bool NeedsGradients => false;

    /// <inheritdoc/>
    protected override Tensor RawMap(Tensor activations, Tensor? gradients)
    {
        long k = activations.shape[0], u = activations.shape[1], v = activations.shape[2];
        var x = activations.reshape(k, u * v).t();
        x = x - x.mean([0], keepdim: true);
        var (_, _, vh) = linalg.svd(x, fullMatrices: false);
        var projection = x.matmul(vh[0]).reshape(u, v);
        var agreement = (projection * activations.mean([0])).sum();
        return agreement.item<float>() < 0 ? -projection : projection;
    }
}
