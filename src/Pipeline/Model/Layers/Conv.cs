using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>Upstream <c>models.common.Conv</c>: convolution, BatchNorm, activation.</summary>
public sealed class Conv : nn.Module<Tensor, Tensor>, IFusable, IOnnxExportable
{
    private readonly Conv2d conv;
    private BatchNorm2d? bn;
    private readonly nn.Module<Tensor, Tensor> act;

    private Conv(Conv2d conv, BatchNorm2d? bn, nn.Module<Tensor, Tensor> act) : base(nameof(Conv))
    {
        this.conv = conv;
        this.bn = bn;
        this.act = act;
        RegisterComponents();
    }

    /// <summary>Output channels.</summary>
    public long OutChannels => conv.out_channels;

    /// <summary>
    /// Creates the module as <c>Conv(c1, c2, k, s, p, g, act)</c> would, shaped after the pickled module
    /// <paramref name="node"/> when there is one (a Conv saved already fused has no <c>bn</c>).
    /// </summary>
    internal static Conv Create(CheckpointModule? node, long c1, long c2, long k = 1, long s = 1, long? p = null, long g = 1,
        ActivationSpec? act = null, string where = "")
    {
        var conv = ModuleHints.Conv2d(node?.Find("conv"), c1, c2, k, s, p ?? k / 2, g, bias: false);
        bool hasBn = node is null || node.Children.ContainsKey("bn");
        var bn = hasBn ? ModuleHints.BatchNorm2d(node?.Find("bn"), conv.out_channels) : null;
        return new Conv(conv, bn, ModuleHints.Activation(node?.Find("act"), act ?? ActivationSpec.SiLU, where));
    }

    /// <summary>
    /// YOLOv5's and Ultralytics' <c>Conv</c> (and <c>DWConv</c>, a Conv with groups) shaped entirely by its pickled
    /// module; a Conv saved already fused has no <c>bn</c>.
    /// </summary>
    internal static Conv FromNode(CheckpointModule node, ModuleFactory build)
    {
        var conv = build.Child<Conv2d>(node, "conv");
        var bn = node.Find("bn") is not null ? build.Child<BatchNorm2d>(node, "bn") : null;
        var act = node.Find("act") is { } a ? ModuleHints.Activation(a, ActivationSpec.SiLU, a.Path) : ActivationSpec.SiLU.Create();
        return new Conv(conv, bn, act);
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => act.call(bn is null ? conv.call(x) : bn.call(conv.call(x)));

    /// <summary>The same on a window, without the convolution's padding (see <see cref="UnpaddedWindow"/>); null where the stride is not 1.</summary>
    internal Tensor? ForwardUnpadded(Tensor x) => UnpaddedWindow.Convolve(conv, x) is { } y ? act.call(bn is null ? y : bn.call(y)) : null;

    /// <summary>Writes the layer into a window program (<see cref="UnpaddedWindow.Lower"/>); null while it has a BatchNorm (unfused).</summary>
    internal int? Lower(WindowProgram.Builder program, int x) => bn is null ? program.Conv(conv, act, x) : null;

    /// <inheritdoc/>
    public void Fuse()
    {
        if (bn is null) return;
        var (w, b) = BatchNormFolding.Fold(conv.weight, conv.bias, bn);
        BatchNormFolding.Assign(conv, w, b);
        register_module(nameof(bn), null!);
        bn.Dispose();
        bn = null;
    }

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs)
    {
        string y = g.Conv2d(conv, inputs[0]);
        if (bn is not null) y = g.Module(bn, y);
        return g.Module(act, y);
    }

    /// <summary>
    /// The layer's output split into <paramref name="sizes"/> along the channels, as one convolution per part: ONNX
    /// Runtime keeps each part in its convolutions' blocked channel layout, where a Split would convert the whole
    /// output out of it and back (around C2f's <c>cv1</c>, about 3.5% of YOLOv8n's forward pass at 640 in ONNX Runtime's
    /// profile).
    /// </summary>
    internal string[] ToOnnxParts(OnnxGraph g, string x, params long[] sizes)
    {
        if (bn is not null) return g.Split(((IOnnxExportable)this).ToOnnx(g, [x]), 1, sizes);
        var parts = new string[sizes.Length];
        for (long i = 0, start = 0; i < sizes.Length; start += sizes[i], i++)
            parts[i] = g.Module(act, g.Conv2d(conv, x, start, sizes[i]));
        return parts;
    }
}
