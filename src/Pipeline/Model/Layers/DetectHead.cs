using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>
/// Upstream <c>Detect</c>, <c>IDetect</c> (with YOLOR implicit add/multiply) and <c>IAuxDetect</c> (whose
/// auxiliary heads <c>m2</c> are loaded but unused at inference): one 1x1 convolution per level, decoded to boxes.
/// </summary>
public sealed class DetectHead : MultiInputLayer, IFusable
{
    private readonly ModuleList<Conv2d> m;
    private ModuleList<ImplicitA>? ia;
    private ModuleList<ImplicitM>? im;
    private readonly ModuleList<Conv2d>? m2;
    private readonly Tensor anchors;
    private readonly Tensor anchor_grid;
    private float[] _strides;

    private DetectHead(string kind, long nc, long na, ModuleList<Conv2d> m, ModuleList<ImplicitA>? ia,
        ModuleList<ImplicitM>? im, ModuleList<Conv2d>? m2, Tensor anchors) : base(kind)
    {
        Kind = kind;
        NumClasses = (int)nc;
        NumAnchors = (int)na;
        NumLevels = m.Count;
        this.m = m;
        this.ia = ia;
        this.im = im;
        this.m2 = m2;
        this.anchors = anchors;
        anchor_grid = anchors.clone().view(NumLevels, 1, na, 1, 1, 2);
        _strides = new float[NumLevels];
        RegisterComponents();
    }

    /// <summary>"Detect", "IDetect" or "IAuxDetect".</summary>
    public string Kind { get; }

    /// <summary>Number of classes.</summary>
    public int NumClasses { get; }

    /// <summary>Anchors per level.</summary>
    public int NumAnchors { get; }

    /// <summary>Detection levels (3 for P5 models, 4 for P6).</summary>
    public int NumLevels { get; }

    /// <summary>Outputs per anchor: 4 box values, objectness, class scores.</summary>
    public int NumOutputs => NumClasses + 5;

    /// <summary>Input stride of each level, e.g. 8, 16, 32.</summary>
    public IReadOnlyList<float> Strides => _strides;

    internal void SetStrides(float[] strides) => _strides = strides;

    /// <summary>Creates the head for <c>kind(nc, anchors, ch)</c>.</summary>
    internal static DetectHead Create(string kind, CheckpointModule? node, long nc, List<long[]> anchorRows, long[] ch, string where)
    {
        long nl = anchorRows.Count;
        long na = anchorRows[0].Length / 2;
        long no = (nc + 5) * na;
        bool aux = kind == "IAuxDetect";
        if (aux ? ch.Length != 2 * nl : ch.Length != nl)
            throw new ArchitectureException($"{where}: {kind} has {ch.Length} inputs for {nl} anchor levels");
        var m = nn.ModuleList(Enumerable.Range(0, (int)nl).Select(i => ModuleHints.Conv2d(node?.Find($"m.{i}"), ch[i], no, 1, 1, 0, 1, true)).ToArray());
        ModuleList<Conv2d>? m2 = aux
            ? nn.ModuleList(Enumerable.Range(0, (int)nl).Select(i => ModuleHints.Conv2d(node?.Find($"m2.{i}"), ch[nl + i], no, 1, 1, 0, 1, true)).ToArray())
            : null;
        bool implicitKnowledge = kind != "Detect" && (node is null || node.Children.ContainsKey("ia"));
        var ia = implicitKnowledge ? nn.ModuleList(Enumerable.Range(0, (int)nl).Select(i => new ImplicitA(ch[i])).ToArray()) : null;
        var im = implicitKnowledge ? nn.ModuleList(Enumerable.Range(0, (int)nl).Select(_ => new ImplicitM(no)).ToArray()) : null;
        var flat = anchorRows.SelectMany(r => r.Select(v => (float)v)).ToArray();
        return new DetectHead(kind, nc, na, m, ia, im, m2, tensor(flat).view(nl, na, 2));
    }

    /// <inheritdoc/>
    public override Tensor forward(IReadOnlyList<Tensor> inputs)
    {
        var (pred, logits) = ForwardHead(inputs);
        logits.Dispose();
        return pred;
    }

    /// <summary>
    /// Runs the head. <c>Pred</c> is upstream's inference output (B, N, 5+nc): xywh in input pixels, sigmoid
    /// objectness and class scores; <c>Logits</c> holds the same rows before the sigmoid and box decoding.
    /// Rows are ordered level, anchor, grid row, grid column, as upstream.
    /// </summary>
    public (Tensor Pred, Tensor Logits) ForwardHead(IReadOnlyList<Tensor> inputs)
    {
        using var scope = NewDisposeScope();
        var preds = new List<Tensor>(NumLevels);
        var raws = new List<Tensor>(NumLevels);
        for (int i = 0; i < NumLevels; i++)
        {
            var x = inputs[i];
            if (ia is not null) x = ia[i].call(x);
            x = m[i].call(x);
            if (im is not null) x = im[i].call(x);
            long bs = x.shape[0], ny = x.shape[2], nx = x.shape[3];
            x = x.view(bs, NumAnchors, NumOutputs, ny, nx).permute(0, 1, 3, 4, 2).contiguous();
            var y = x.sigmoid();
            var grid = MakeGrid(nx, ny, x.device, x.dtype);
            var xy = (y[TensorIndex.Ellipsis, TensorIndex.Slice(0, 2)] * 2.0 - 0.5 + grid) * _strides[i];
            var wh = (y[TensorIndex.Ellipsis, TensorIndex.Slice(2, 4)] * 2.0).pow(2) * anchor_grid[i].to(x.dtype);
            var decoded = cat([xy, wh, y[TensorIndex.Ellipsis, TensorIndex.Slice(4, null)]], -1);
            preds.Add(decoded.view(bs, -1, NumOutputs));
            raws.Add(x.view(bs, -1, NumOutputs));
        }
        return (cat(preds, 1).MoveToOuterDisposeScope(), cat(raws, 1).MoveToOuterDisposeScope());
    }

    private static Tensor MakeGrid(long nx, long ny, Device device, ScalarType dtype)
    {
        var yv = arange(ny, device: device).view(ny, 1).expand(ny, nx);
        var xv = arange(nx, device: device).view(1, nx).expand(ny, nx);
        return stack([xv, yv], 2).view(1, 1, ny, nx, 2).to(dtype);
    }

    /// <summary>Folds the implicit add/multiply into the detect convolutions (upstream <c>IDetect.fuse</c>).</summary>
    public void Fuse()
    {
        if (ia is null || im is null) return;
        using (no_grad())
        {
            for (int i = 0; i < NumLevels; i++)
            {
                using var scope = NewDisposeScope();
                var conv = m[i];
                long c1 = conv.weight.shape[0], c2 = conv.weight.shape[1];
                var bias = conv.bias! + matmul(conv.weight.reshape(c1, c2), ia[i].Value.reshape(c2, 1)).squeeze(1);
                var scale = im[i].Value.reshape(c1);
                var newBias = bias * scale;
                var newWeight = conv.weight * im[i].Value.transpose(0, 1);
                BatchNormFolding.Assign(conv, newWeight.MoveToOuterDisposeScope(), newBias.MoveToOuterDisposeScope());
            }
        }
        register_module(nameof(ia), null!);
        register_module(nameof(im), null!);
        ia.Dispose();
        im.Dispose();
        ia = null;
        im = null;
    }
}
