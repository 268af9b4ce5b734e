using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Methods;

/// <summary>
/// How a map is made from a layer's activations A (K, u, v) and the gradients G = dScore/dA (K, u, v).
/// Channel-weight methods override only <see cref="Weights"/>; element-wise methods override <see cref="RawMap"/>.
/// The base applies the ReLU, like pytorch-grad-cam.
/// </summary>
public abstract class CamMethod
{
    /// <summary>Name used on the command line (<c>--method</c>) and in file names.</summary>
    public abstract string Name { get; }

    /// <summary>False for methods that use the activations alone (EigenCAM): no backward pass is run.</summary>
    public virtual bool NeedsGradients => true;

    /// <summary>True when the map keeps per-location gradient information (instance-specific at any layer).</summary>
    public virtual bool IsElementWise => false;

    /// <summary>The (u, v) map before upsampling and normalisation.</summary>
    public Tensor Map(Tensor activations, Tensor? gradients) => nn.functional.relu(RawMap(activations, gradients));

    /// <summary>By default <c>sum_k w_k A_k</c> with the channel weights of <see cref="Weights"/>.</summary>
    protected virtual Tensor RawMap(Tensor activations, Tensor? gradients) =>
        (Weights(activations, gradients!).view(-1, 1, 1) * activations).sum(0L);

    /// <summary>Gradient x activation per location, summed over channels (HiResCAM's map, ODAM's heat map).</summary>
    protected static Tensor GradientTimesActivation(Tensor activations, Tensor gradients) => (gradients * activations).sum(0L);

    /// <summary>One weight per channel (K).</summary>
    protected virtual Tensor Weights(Tensor activations, Tensor gradients) =>
        throw new NotSupportedException($"{Name} computes its map directly");

    /// <summary>The method named <paramref name="name"/>.</summary>
    public static CamMethod Parse(string name) => name.ToLowerInvariant() switch
    {
        "gradcam" => new GradCam(),
        "gradcampp" or "gradcam++" => new GradCamPlusPlus(),
        "xgradcam" => new XGradCam(),
        "hirescam" => new HiResCam(),
        "layercam" => new LayerCam(),
        "eigencam" => new EigenCam(),
        "odam" => new Odam(),
        _ => throw new Runtime.UserInputException("not a CAM method; choose one of gradcam, gradcampp, xgradcam, hirescam, layercam, eigencam, odam"),
    };
}
