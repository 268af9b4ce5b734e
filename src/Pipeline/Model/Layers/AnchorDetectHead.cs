using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>
/// The anchor-based heads: YOLOv7's <c>Detect</c>, <c>IDetect</c> (with YOLOR implicit add/multiply) and
/// <c>IAuxDetect</c> (whose auxiliary heads <c>m2</c> are loaded but unused at inference), and YOLOv5's <c>Detect</c>:
/// one 1x1 convolution per level, decoded to boxes from grid offsets and anchors, with an objectness score.
/// </summary>
public sealed class AnchorDetectHead : DetectionHead, IFusable
{
    private readonly ModuleList<Conv2d> m;
    private ModuleList<ImplicitA>? ia;
    private ModuleList<ImplicitM>? im;
    private readonly ModuleList<Conv2d>? m2;
    private readonly Tensor anchors;
    // YOLOv7 keeps the anchors in pixels in this buffer; YOLOv5 has none and scales `anchors` (grid units) by the stride.
    private readonly Tensor? anchor_grid;
    private float[] _strides;
    private readonly string _kind;
    private readonly int _numClasses;

    private AnchorDetectHead(string kind, long nc, long na, ModuleList<Conv2d> m, ModuleList<ImplicitA>? ia,
        ModuleList<ImplicitM>? im, ModuleList<Conv2d>? m2, Tensor anchors, bool anchorGridInState) : base(kind)
    {
        _kind = kind;
        _numClasses = (int)nc;
        NumAnchors = (int)na;
        this.m = m;
        this.ia = ia;
        this.im = im;
        this.m2 = m2;
        this.anchors = anchors;
        anchor_grid = anchorGridInState ? anchors.clone().view(m.Count, 1, na, 1, 1, 2) : null;
        _strides = new float[m.Count];
        RegisterComponents();
    }

    /// <inheritdoc/>
    public override string Kind => _kind;

    /// <inheritdoc/>
    public override int NumClasses => _numClasses;

    /// <summary>Anchors per level.</summary>
    public int NumAnchors { get; }

    /// <inheritdoc/>
    public override int NumLevels => m.Count;

    /// <summary>Outputs per anchor: 4 box values, objectness, class scores.</summary>
    public int NumOutputs => NumClasses + 5;

    /// <inheritdoc/>
    public override IReadOnlyList<float> Strides => _strides;

    /// <inheritdoc/>
    public override PredictionLayout Layout => new(BoxEncoding.AnchorOffsets, NumClasses, HasObjectness: true, NumAnchors, _strides,
        LogitObjectnessColumn: 4, LogitClassColumn: 5, UpstreamChannelsFirst: false);

    internal override void SetStrides(float[] strides) => _strides = strides;

    /// <inheritdoc/>
    public override int? LevelOfSubmodule(string path) => LevelIndex(path, "m", "ia", "im");

    /// <summary>YOLOv5's <c>Detect</c> from its pickled module: classes, anchors per level and the convolutions' shapes come from the file.</summary>
    internal static AnchorDetectHead FromYolov5Node(CheckpointModule node, string where)
    {
        long nc = node.Long("nc") ?? throw new ArchitectureException($"{where}: Detect has no 'nc'");
        long na = node.Long("na") ?? throw new ArchitectureException($"{where}: Detect has no 'na'");
        var convs = node.Find("m")?.Children ?? throw new ArchitectureException($"{where}: Detect has no convolutions 'm'");
        var m = nn.ModuleList(Enumerable.Range(0, convs.Count).Select(i => ModuleHints.Conv2d(
            node.Find($"m.{i}") ?? throw new ArchitectureException($"{where}: Detect has no 'm.{i}'"), $"{where} m.{i}")).ToArray());
        if (m.Any(c => c.out_channels != na * (nc + 5)))
            throw new ArchitectureException($"{where}: Detect convolutions do not output {na} x ({nc} + 5) channels");
        return new AnchorDetectHead("Detect", nc, na, m, null, null, null, zeros(m.Count, na, 2), anchorGridInState: false);
    }

    /// <summary>Creates a YOLOv7 head for <c>kind(nc, anchors, ch)</c>.</summary>
    internal static AnchorDetectHead Create(string kind, CheckpointModule? node, long nc, List<long[]> anchorRows, long[] ch, string where)
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
        return new AnchorDetectHead(kind, nc, na, m, ia, im, m2, tensor(flat).view(nl, na, 2), anchorGridInState: true);
    }

    /// <summary>
    /// Runs the head. <c>Pred</c> is upstream's inference output (B, N, 5+nc): xywh in input pixels, sigmoid
    /// objectness and class scores; <c>Logits</c> holds the same rows before the sigmoid and box decoding.
    /// Rows are ordered level, anchor, grid row, grid column, as upstream.
    /// </summary>
    public override (Tensor Pred, Tensor Logits) ForwardHead(IReadOnlyList<Tensor> inputs)
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
            var xy = y[TensorIndex.Ellipsis, TensorIndex.Slice(0, 2)].mul(TorchScalars.Of(2.0)).sub(TorchScalars.Of(0.5)).Plus(grid).mul(TorchScalars.Of(_strides[i]));
            var anchorGrid = anchor_grid is not null ? anchor_grid[i] : anchors[i].mul(TorchScalars.Of(_strides[i])).view(1, NumAnchors, 1, 1, 2);
            var wh = y[TensorIndex.Ellipsis, TensorIndex.Slice(2, 4)].mul(TorchScalars.Of(2.0)).pow(TorchScalars.Of(2.0)) * anchorGrid.to(x.dtype);
            var decoded = cat([xy, wh, y[TensorIndex.Ellipsis, TensorIndex.Slice(4, null)]], -1);
            preds.Add(decoded.view(bs, -1, NumOutputs));
            raws.Add(x.view(bs, -1, NumOutputs));
        }
        return (cat(preds, 1).MoveToOuterDisposeScope(), cat(raws, 1).MoveToOuterDisposeScope());
    }

    internal override (string Pred, string Logits) ToOnnx(Onnx.OnnxGraph g, IReadOnlyList<string> inputs)
    {
        // Decoded channels-first, (B, anchors, outputs, cells), and transposed once at the end: the sigmoid follows the
        // convolution directly (ONNX Runtime fuses it), and the box columns are whole rows to slice, not a stride of
        // every row's 85 values. Constants are folded: xy = y * 2s + (grid - 0.5) s, wh = y^2 * 4 anchor.
        var preds = new List<string>();
        var raws = new List<string>();
        for (int i = 0; i < NumLevels; i++)
        {
            string x = inputs[i];
            if (ia is not null) x = g.Module(ia[i], x);
            x = g.Conv2d(m[i], x);
            if (im is not null) x = g.Module(im[i], x);
            int s = (int)_strides[i];
            long ny = g.InputHeight / s, nx = g.InputWidth / s, cells = ny * nx;
            string y = g.Reshape(g.Sigmoid(x), 0, NumAnchors, NumOutputs, cells);
            var offsets = new float[2 * cells];
            for (long c = 0; c < cells; c++) (offsets[c], offsets[cells + c]) = ((c % nx - 0.5f) * s, (c / nx - 0.5f) * s);
            string xy = g.Add(g.Mul(g.Slice(y, 2, 0, 2), g.Scalar(2f * s)), g.Floats([1, 1, 2, cells], offsets));
            string wh = g.Slice(y, 2, 2, 4);
            using var scope = NewDisposeScope();
            var anchorGrid = anchor_grid is not null ? anchor_grid[i] : anchors[i].mul(TorchScalars.Of(_strides[i])).view(1, NumAnchors, 1, 1, 2);
            wh = g.Mul(g.Mul(wh, wh), g.Weight(anchorGrid.reshape(1, NumAnchors, 2, 1).mul(TorchScalars.Of(4.0))));
            string decoded = g.Concat([xy, wh, g.Slice(y, 2, 4, NumOutputs)], 2);
            preds.Add(g.Reshape(g.Transpose(decoded, 0, 1, 3, 2), 0, -1, NumOutputs));
            raws.Add(g.Reshape(g.Transpose(g.Reshape(x, 0, NumAnchors, NumOutputs, cells), 0, 1, 3, 2), 0, -1, NumOutputs));
        }
        return (g.Concat(preds, 1), g.Concat(raws, 1));
    }

    /// <inheritdoc/>
    public override Tensor LevelLogits(int level, Tensor input)
    {
        var x = input;
        if (ia is not null) x = ia[level].call(x);
        x = m[level].call(x);
        if (im is not null) x = im[level].call(x);
        long bs = x.shape[0], ny = x.shape[2], nx = x.shape[3];
        return x.view(bs, NumAnchors, NumOutputs, ny, nx).permute(0, 1, 3, 4, 2).reshape(bs, -1, NumOutputs);
    }

    /// <inheritdoc/>
    internal override Tensor? LevelLogitsUnpadded(int level, Tensor input) =>
        m[level] is Conv2d { kernel_size: [1, 1] } ? LevelLogits(level, input) : null; // a 1x1 convolution has no padding

    /// <inheritdoc/>
    internal override int? LowerLevel(WindowProgram.Builder program, int level, int x)
    {
        if (m[level] is not Conv2d { kernel_size: [1, 1] } conv) return null;
        if (ia is not null) x = program.Affine(x, null, ia[level].Value);
        if (program.Conv(conv, null, x) is not { } y) return null;
        return im is null ? y : program.Affine(y, im[level].Value, null);
    }

    private static Tensor MakeGrid(long nx, long ny, Device device, ScalarType dtype)
    {
        var yv = arange(TorchScalars.Of(ny), device: device).view(ny, 1).expand(ny, nx);
        var xv = arange(TorchScalars.Of(nx), device: device).view(1, nx).expand(ny, nx);
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
                var bias = conv.bias!.Plus(matmul(conv.weight.reshape(c1, c2), ia[i].Value.reshape(c2, 1)).squeeze(1));
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
