using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Methods;

/// <summary>HiResCAM: the element-wise product of gradients and activations, summed over channels (no averaging).</summary>
public sealed class HiResCam : CamMethod
{
    /// <inheritdoc/>
    public override string Name => "hirescam";

    /// <inheritdoc/>
    public override bool IsElementWise => true;

    /// <inheritdoc/>
    protected override Tensor RawMap(Tensor activations, Tensor? gradients) => GradientTimesActivation(activations, gradients!);
}
