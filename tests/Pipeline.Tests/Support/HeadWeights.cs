using StreamAnalyzer.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Tests.Support;

/// <summary>The model-randomisation check of explanations (Adebayo et al.): the head's weights replaced by noise.</summary>
public static class HeadWeights
{
    /// <summary>
    /// Replaces every parameter of <paramref name="model"/>'s detect head by Gaussian noise of the parameter's own
    /// spread, drawn from a generator of its own (tests running beside this one draw from, and seed, the global one).
    /// </summary>
    public static void Randomise(YoloModel model, ulong seed)
    {
        string head = $"model.{model.HeadIndex}.";
        using var generator = new Generator(seed);
        using var _ = no_grad();
        foreach (var (name, p) in model.named_parameters())
            if (name.StartsWith(head, StringComparison.Ordinal)) p.copy_(randn(p.shape, dtype: p.dtype, generator: generator) * p.std());
    }
}
