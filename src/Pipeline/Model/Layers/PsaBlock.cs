using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>YOLO11's <c>PSABlock</c>: self-attention, then a two-Conv feed-forward, each with a residual when <c>add</c> is set.</summary>
public sealed class PsaBlock : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Attention attn;
    private readonly Sequential ffn;
    private readonly bool _add;

    private PsaBlock(Attention attn, Sequential ffn, bool add) : base(nameof(PsaBlock))
    {
        this.attn = attn;
        this.ffn = ffn;
        _add = add;
        RegisterComponents();
    }

    internal static PsaBlock FromNode(CheckpointModule node, ModuleFactory build) =>
        new(build.Child<Attention>(node, "attn"), build.Child<Sequential>(node, "ffn"),
            node.Bool("add") ?? throw new ArchitectureException($"'{node.Path}': PSABlock has no 'add'"));

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        var a = attn.call(x);
        x = _add ? x.Plus(a) : a;
        var f = ffn.call(x);
        return _add ? x.Plus(f) : f;
    }

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs)
    {
        string x = inputs[0];
        string a = g.Module(attn, x);
        x = _add ? g.Add(x, a) : a;
        string f = g.Module(ffn, x);
        return _add ? g.Add(x, f) : f;
    }
}
