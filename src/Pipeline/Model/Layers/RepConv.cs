using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>
/// Upstream <c>models.common.RepConv</c> (RepVGG block): 3x3 conv+BN, 1x1 conv+BN and an identity BN summed,
/// or the single re-parameterised 3x3 convolution <c>rbr_reparam</c> they fold into.
/// </summary>
public sealed class RepConv : nn.Module<Tensor, Tensor>, IFusable, IOnnxExportable
{
    private BatchNorm2d? rbr_identity;
    private Sequential? rbr_dense;
    private Sequential? rbr_1x1;
    private Conv2d? rbr_reparam;
    private readonly nn.Module<Tensor, Tensor> act;
    private readonly long _groups;

    private RepConv(BatchNorm2d? identity, Sequential? dense, Sequential? oneByOne, Conv2d? reparam,
        nn.Module<Tensor, Tensor> act, long groups) : base(nameof(RepConv))
    {
        rbr_identity = identity;
        rbr_dense = dense;
        rbr_1x1 = oneByOne;
        rbr_reparam = reparam;
        this.act = act;
        _groups = groups;
        RegisterComponents();
    }

    /// <summary>Creates <c>RepConv(c1, c2, k=3, s, p, g, act)</c>, shaped after the pickled module when present.</summary>
    internal static RepConv Create(CheckpointModule? node, long c1, long c2, long k, long s, long g, ActivationSpec act, string where)
    {
        if (k != 3) throw new ArchitectureException($"{where}: RepConv needs a 3x3 kernel, got {k}");
        var activation = ModuleHints.Activation(node?.Find("act"), act, where);
        if (node?.Find("rbr_reparam") is { } fused)
            return new RepConv(null, null, null, ModuleHints.Conv2d(fused, c1, c2, 3, s, 1, g, bias: true), activation, g);

        var dense = nn.Sequential(
            ModuleHints.Conv2d(node?.Find("rbr_dense.0"), c1, c2, 3, s, 1, g, bias: false),
            ModuleHints.BatchNorm2d(node?.Find("rbr_dense.1"), c2));
        var oneByOne = nn.Sequential(
            ModuleHints.Conv2d(node?.Find("rbr_1x1.0"), c1, c2, 1, s, 0, g, bias: false),
            ModuleHints.BatchNorm2d(node?.Find("rbr_1x1.1"), c2));
        bool hasIdentity = node is null ? c1 == c2 && s == 1 : node.Children.ContainsKey("rbr_identity");
        var identity = hasIdentity ? ModuleHints.BatchNorm2d(node?.Find("rbr_identity"), c1) : null;
        return new RepConv(identity, dense, oneByOne, null, activation, g);
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        if (rbr_reparam is not null) return act.call(rbr_reparam.call(x));
        var sum = rbr_dense!.call(x).Plus(rbr_1x1!.call(x));
        if (rbr_identity is not null) sum = sum.Plus(rbr_identity.call(x));
        return act.call(sum);
    }

    /// <summary>
    /// The re-parameterised convolution on a window, without its padding (see <see cref="UnpaddedWindow"/>); null
    /// while the branches are separate (unfused).
    /// </summary>
    internal Tensor? ForwardUnpadded(Tensor x) => rbr_reparam is not null && UnpaddedWindow.Convolve(rbr_reparam, x) is { } y ? act.call(y) : null;

    /// <summary>Writes the fused layer into a window program (<see cref="UnpaddedWindow.Lower"/>); null while unfused.</summary>
    internal int? Lower(WindowProgram.Builder program, int x) => rbr_reparam is null ? null : program.Conv(rbr_reparam, act, x);

    /// <inheritdoc/>
    public void Fuse()
    {
        if (rbr_reparam is not null) return;
        using var noGrad = no_grad();
        var denseConv = (Conv2d)rbr_dense![0];
        var (w3, b3) = BatchNormFolding.Fold(denseConv.weight, null, (BatchNorm2d)rbr_dense[1]);
        var (w1, b1) = BatchNormFolding.Fold(((Conv2d)rbr_1x1![0]).weight, null, (BatchNorm2d)rbr_1x1[1]);
        using var scope = NewDisposeScope();
        var weight = w3.Plus(nn.functional.pad(w1, [1, 1, 1, 1]));
        var bias = b3.Plus(b1);
        if (rbr_identity is not null)
        {
            // The identity branch is a 3x3 kernel with a 1 at the centre of each channel's own input.
            long inPerGroup = denseConv.in_channels / _groups;
            var id = zeros(denseConv.in_channels, inPerGroup, 3, 3);
            var one = tensor(1f);
            for (long i = 0; i < denseConv.in_channels; i++) id[i, i % inPerGroup, 1, 1] = one;
            var (wi, bi) = BatchNormFolding.Fold(id, null, rbr_identity);
            weight = weight.Plus(wi);
            bias = bias.Plus(bi);
        }
        var reparam = nn.Conv2d(denseConv.in_channels, denseConv.out_channels, (3, 3), (denseConv.stride[0], denseConv.stride[1]),
            (1, 1), groups: _groups, bias: true);
        BatchNormFolding.Assign(reparam, weight.MoveToOuterDisposeScope(), bias.MoveToOuterDisposeScope());
        foreach (var t in new[] { w3, b3, w1, b1 }) t.Dispose();

        foreach (var name in new[] { nameof(rbr_dense), nameof(rbr_1x1), nameof(rbr_identity) }) register_module(name, null!);
        rbr_dense.Dispose();
        rbr_1x1.Dispose();
        rbr_identity?.Dispose();
        rbr_dense = rbr_1x1 = null;
        rbr_identity = null;
        rbr_reparam = reparam;
        register_module(nameof(rbr_reparam), reparam);
    }

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs)
    {
        string x = inputs[0];
        if (rbr_reparam is not null) return g.Module(act, g.Conv2d(rbr_reparam, x));
        string sum = g.Add(g.Module(rbr_dense!, x), g.Module(rbr_1x1!, x));
        if (rbr_identity is not null) sum = g.Add(sum, g.Module(rbr_identity, x));
        return g.Module(act, sum);
    }
}
