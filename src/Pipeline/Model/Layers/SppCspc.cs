using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>Upstream <c>SPPCSPC</c>: spatial pyramid pooling in a cross-stage-partial block.</summary>
public sealed class SppCspc : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Conv cv1, cv2, cv3, cv4, cv5, cv6, cv7;
    private readonly ModuleList<MaxPool2d> m;

    private SppCspc(Conv[] cv, ModuleList<MaxPool2d> m) : base(nameof(SppCspc))
    {
        (cv1, cv2, cv3, cv4, cv5, cv6, cv7) = (cv[0], cv[1], cv[2], cv[3], cv[4], cv[5], cv[6]);
        this.m = m;
        RegisterComponents();
    }

    /// <summary><c>SPPCSPC(c1, c2, n=1, shortcut=False, g=1, e=0.5, k=(5, 9, 13))</c>.</summary>
    internal static SppCspc Create(CheckpointModule? node, long c1, long c2, double e, long[] k, string where)
    {
        long c = (long)(2 * c2 * e);
        Conv C(string name, long a, long b, long kk) => Conv.Create(node?.Find(name), a, b, kk, 1, where: $"{where}.{name}");
        var cv = new[]
        {
            C("cv1", c1, c, 1), C("cv2", c1, c, 1), C("cv3", c, c, 3), C("cv4", c, c, 1),
            C("cv5", 4 * c, c, 1), C("cv6", c, c, 3), C("cv7", 2 * c, c2, 1),
        };
        var pools = k.Select((kk, i) => ModuleHints.MaxPool2d(node?.Find($"m.{i}"), kk, 1, kk / 2)).ToArray();
        return new SppCspc(cv, nn.ModuleList(pools));
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        var x1 = cv4.call(cv3.call(cv1.call(x)));
        var pyramid = new List<Tensor> { x1 };
        pyramid.AddRange(m.Select(pool => pool.call(x1)));
        var y1 = cv6.call(cv5.call(cat(pyramid, 1)));
        var y2 = cv2.call(x);
        return cv7.call(cat([y1, y2], 1)).MoveToOuterDisposeScope();
    }

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs)
    {
        string x = inputs[0];
        string x1 = g.Module(cv4, g.Module(cv3, g.Module(cv1, x)));
        string y1 = g.Module(cv6, g.Module(cv5, g.Concat(m.Select(pool => g.Module(pool, x1)).Prepend(x1), 1)));
        return g.Module(cv7, g.Concat([y1, g.Module(cv2, x)], 1));
    }
}
