using StreamAnalyzer.Pipeline.Model.Onnx;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>Upstream <c>ReOrg</c> (space-to-depth): (b, c, h, w) to (b, 4c, h/2, w/2).</summary>
public sealed class ReOrg : nn.Module<Tensor, Tensor>, IOnnxExportable
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

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs) => SpaceToDepth(g, inputs[0]);

    /// <summary>The ONNX form of <see cref="SpaceToDepth(Tensor)"/>.</summary>
    internal static string SpaceToDepth(OnnxGraph g, string x)
    {
        string Take(long row, long col) => g.Slice(g.Slice(x, 2, row, long.MaxValue, 2), 3, col, long.MaxValue, 2);
        return g.Concat([Take(0, 0), Take(1, 0), Take(0, 1), Take(1, 1)], 1);
    }
}
