using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>An activation named in the architecture config, e.g. <c>nn.LeakyReLU(0.1)</c>, <c>True</c> (SiLU) or <c>False</c>.</summary>
public sealed record ActivationSpec(string Name, double Slope)
{
    /// <summary>Upstream's default (<c>act=True</c>).</summary>
    public static readonly ActivationSpec SiLU = new("SiLU", 0);

    /// <summary>Creates the module.</summary>
    public nn.Module<Tensor, Tensor> Create() => Name switch
    {
        "SiLU" => nn.SiLU(),
        "LeakyReLU" => new LeakyRelu(Slope),
        "ReLU" => nn.ReLU(),
        "Hardswish" => nn.Hardswish(),
        "Sigmoid" => nn.Sigmoid(),
        "Mish" => nn.Mish(),
        _ => nn.Identity(),
    };
}
