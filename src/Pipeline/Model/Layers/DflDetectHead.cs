using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>
/// Ultralytics' anchor-free <c>Detect</c> (YOLOv8, YOLO11, YOLOv5u): per level a box branch <c>cv2</c> (4 x
/// <c>reg_max</c> side distributions) and a class branch <c>cv3</c> (one logit per class, no objectness). Boxes are
/// decoded with <see cref="Dfl"/> around cell centres and scaled by the level's stride.
/// </summary>
public sealed class DflDetectHead : DetectionHead
{
    private readonly ModuleList<nn.Module<Tensor, Tensor>> cv2;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> cv3;
    private readonly nn.Module<Tensor, Tensor> dfl;
    private readonly int _numClasses;
    private readonly long _regMax;
    private float[] _strides;

    private DflDetectHead(ModuleList<nn.Module<Tensor, Tensor>> cv2, ModuleList<nn.Module<Tensor, Tensor>> cv3,
        nn.Module<Tensor, Tensor> dfl, int numClasses, long regMax) : base("Detect")
    {
        this.cv2 = cv2;
        this.cv3 = cv3;
        this.dfl = dfl;
        _numClasses = numClasses;
        _regMax = regMax;
        _strides = new float[cv2.Count];
        RegisterComponents();
    }

    internal static DflDetectHead FromNode(CheckpointModule node, ModuleFactory build)
    {
        long nc = node.Long("nc") ?? throw new ArchitectureException($"'{node.Path}': Detect has no 'nc'");
        long regMax = node.Long("reg_max") ?? 16;
        var box = build.Items(node, "cv2");
        var cls = build.Items(node, "cv3");
        if (box.Length == 0 || box.Length != cls.Length)
            throw new ArchitectureException($"'{node.Path}': Detect has {box.Length} box and {cls.Length} class branches");
        return new DflDetectHead(nn.ModuleList(box), nn.ModuleList(cls), build.Child<nn.Module<Tensor, Tensor>>(node, "dfl"), (int)nc, regMax);
    }

    /// <inheritdoc/>
    public override string Kind => "Detect";

    /// <inheritdoc/>
    public override int NumClasses => _numClasses;

    /// <inheritdoc/>
    public override int NumLevels => cv2.Count;

    /// <inheritdoc/>
    public override IReadOnlyList<float> Strides => _strides;

    /// <inheritdoc/>
    public override PredictionLayout Layout => new(BoxEncoding.SideDistributions, NumClasses, HasObjectness: false, AnchorsPerCell: 1,
        _strides, LogitObjectnessColumn: null, LogitClassColumn: 0, UpstreamChannelsFirst: true);

    internal override void SetStrides(float[] strides) => _strides = strides;

    /// <inheritdoc/>
    public override int? LevelOfSubmodule(string path) => LevelIndex(path, "cv2", "cv3");

    /// <summary>
    /// <c>Pred</c> (B, N, 4 + nc): box centre and size in input pixels, then sigmoid class scores - upstream's
    /// (B, 4 + nc, N) output transposed; <c>Logits</c> (B, N, nc): the class logits.
    /// </summary>
    public override (Tensor Pred, Tensor Logits) ForwardHead(IReadOnlyList<Tensor> inputs)
    {
        using var scope = NewDisposeScope();
        long b = inputs[0].shape[0];
        var boxes = new List<Tensor>(NumLevels);
        var classes = new List<Tensor>(NumLevels);
        var centres = new List<Tensor>(NumLevels);
        var strides = new List<Tensor>(NumLevels);
        for (int i = 0; i < NumLevels; i++)
        {
            var x = inputs[i];
            long h = x.shape[2], w = x.shape[3];
            boxes.Add(cv2[i].call(x).view(b, 4 * _regMax, h * w));
            classes.Add(cv3[i].call(x).view(b, NumClasses, h * w));
            // Cell centres (x + 0.5, y + 0.5), row-major, as upstream's make_anchors.
            var sx = arange(TorchScalars.Of(w), dtype: x.dtype, device: x.device).add(TorchScalars.Of(0.5), TorchScalars.One);
            var sy = arange(TorchScalars.Of(h), dtype: x.dtype, device: x.device).add(TorchScalars.Of(0.5), TorchScalars.One);
            centres.Add(stack([sx.view(1, w).expand(h, w), sy.view(h, 1).expand(h, w)], 0).view(2, h * w));
            strides.Add(full([h * w], TorchScalars.Of(_strides[i]), dtype: x.dtype, device: x.device));
        }
        var distances = dfl.call(cat(boxes, 2));                      // (B, 4, N): left, top, right, bottom
        var anchors = cat(centres, 1).unsqueeze(0);                   // (1, 2, N)
        var topLeft = anchors - distances.narrow(1, 0, 2);
        var bottomRight = anchors.Plus(distances.narrow(1, 2, 2));
        var stride = cat(strides, 0).view(1, 1, -1);
        var box = cat([topLeft.Plus(bottomRight).div(TorchScalars.Of(2.0)), bottomRight - topLeft], 1) * stride;
        var logits = cat(classes, 2);                                 // (B, nc, N)
        var pred = cat([box, logits.sigmoid()], 1).transpose(1, 2).contiguous();
        return (pred.MoveToOuterDisposeScope(), logits.transpose(1, 2).MoveToOuterDisposeScope());
    }

    /// <inheritdoc/>
    public override Tensor LevelLogits(int level, Tensor input)
    {
        var logits = cv3[level].call(input);
        return logits.view(logits.shape[0], NumClasses, -1).transpose(1, 2);
    }

    /// <inheritdoc/>
    internal override Tensor? LevelLogitsUnpadded(int level, Tensor input) =>
        UnpaddedWindow.Forward(cv3[level], input) is { } logits ? logits.view(logits.shape[0], NumClasses, -1).transpose(1, 2) : null;

    /// <inheritdoc/>
    internal override int? LowerLevel(WindowProgram.Builder program, int level, int x) => UnpaddedWindow.Lower(program, cv3[level], x);

    internal override (string Pred, string Logits) ToOnnx(Onnx.OnnxGraph g, IReadOnlyList<string> inputs)
    {
        // Box and class maps are joined per level before leaving the convolutions' blocked layout, and split once at
        // the end: one layout conversion per level instead of two (what an upstream export does too).
        var levels = new List<string>();
        var centres = new List<float>();
        var strides = new List<float>();
        for (int i = 0; i < NumLevels; i++)
        {
            levels.Add(g.Reshape(g.Concat([g.Module(cv2[i], inputs[i]), g.Module(cv3[i], inputs[i])], 1), 0, 4 * _regMax + NumClasses, -1));
            int s = (int)_strides[i];
            int ny = g.InputHeight / s, nx = g.InputWidth / s;
            for (int y = 0; y < ny; y++)
                for (int x = 0; x < nx; x++) centres.Add(x + 0.5f);
            for (int y = 0; y < ny; y++)
                for (int x = 0; x < nx; x++) centres.Add(y + 0.5f);
            strides.AddRange(Enumerable.Repeat(_strides[i], ny * nx));
        }
        // Centres were added level by level as [xs, ys]: reorder them into one (2, N) block.
        int n = strides.Count;
        var anchorValues = new float[2 * n];
        int at = 0;
        for (int i = 0, offset = 0; i < NumLevels; i++)
        {
            int s = (int)_strides[i];
            int cells = (g.InputHeight / s) * (g.InputWidth / s);
            for (int c = 0; c < cells; c++)
            {
                anchorValues[offset + c] = centres[at + c];
                anchorValues[n + offset + c] = centres[at + cells + c];
            }
            at += 2 * cells;
            offset += cells;
        }
        string anchors = g.Floats([1, 2, n], anchorValues);
        string all = g.Concat(levels, 2);
        string distances = g.Module(dfl, g.Slice(all, 1, 0, 4 * _regMax));
        string topLeft = g.Sub(anchors, g.Slice(distances, 1, 0, 2));
        string bottomRight = g.Add(anchors, g.Slice(distances, 1, 2, 4));
        string centre = g.Op("Div", [g.Add(topLeft, bottomRight), g.Scalar(2f)]);
        string box = g.Mul(g.Concat([centre, g.Sub(bottomRight, topLeft)], 1), g.Floats([1, 1, n], [.. strides]));
        string logits = g.Slice(all, 1, 4 * _regMax, 4 * _regMax + NumClasses);
        return (g.Transpose(g.Concat([box, g.Sigmoid(logits)], 1), 0, 2, 1), g.Transpose(logits, 0, 2, 1));
    }
}
