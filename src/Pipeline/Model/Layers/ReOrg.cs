using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>Upstream <c>ReOrg</c> (space-to-depth): (b, c, h, w) to (b, 4c, h/2, w/2).</summary>
public sealed class ReOrg : nn.Module<Tensor, Tensor>
{
    /// <summary>Creates the module (it has no parameters).</summary>
    public ReOrg() : base(nameof(ReOrg)) { }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => SpaceToDepth(x);

    /// <summary>(b, c, h, w) to (b, 4c, h/2, w/2): even/even, odd/even, even/odd, odd/odd pixels, as upstream orders them.</summary>
    internal static Tensor SpaceToDepth(Tensor x)
    {
        using var scope = NewDisposeScope();
        var even = TensorIndex.Slice(0, null, 2);
        var odd = TensorIndex.Slice(1, null, 2);
        var e = TensorIndex.Ellipsis;
        return cat([x[e, even, even], x[e, odd, even], x[e, even, odd], x[e, odd, odd]], 1).MoveToOuterDisposeScope();
    }
}
