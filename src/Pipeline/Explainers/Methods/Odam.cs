using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Methods;

/// <summary>
/// ODAM-style instance map (Zhao et al., ICLR 2023): gradient x activation kept per location and summed over
/// channels, never averaged into channel weights, so each detection's map stays on that detection. Meant for the
/// fused neck layers (<c>--layers neck</c>), where the gradient of one box spreads over its receptive field.
/// </summary>
public sealed class Odam : CamMethod
{
    /// <inheritdoc/>
    public override string Name => "odam";

    /// <inheritdoc/>
    public override bool IsElementWise => true;

    /// <inheritdoc/>
    protected override Tensor RawMap(Tensor activations, Tensor? gradients) => GradientTimesActivation(activations, gradients!);
}
