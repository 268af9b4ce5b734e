using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>
/// YOLO11's multi-head self-attention over the H x W positions: queries, keys (<c>key_dim</c> each) and values
/// (<c>head_dim</c>) per head from one 1x1 <c>qkv</c> Conv, softmax over keys scaled by <c>scale</c>, plus a
/// depth-wise 3x3 positional term <c>pe</c> of the values, then <c>proj</c>.
/// </summary>
public sealed class Attention : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Conv qkv;
    private readonly Conv proj;
    private readonly Conv pe;
    private readonly long _heads;
    private readonly long _keyDim;
    private readonly long _headDim;
    private readonly double _scale;

    private Attention(Conv qkv, Conv proj, Conv pe, long heads, long keyDim, long headDim, double scale) : base(nameof(Attention))
    {
        this.qkv = qkv;
        this.proj = proj;
        this.pe = pe;
        _heads = heads;
        _keyDim = keyDim;
        _headDim = headDim;
        _scale = scale;
        RegisterComponents();
    }

    internal static Attention FromNode(CheckpointModule node, ModuleFactory build)
    {
        long Need(string name) => node.Long(name) ?? throw new ArchitectureException($"'{node.Path}': Attention has no '{name}'");
        double scale = node.Double("scale") ?? throw new ArchitectureException($"'{node.Path}': Attention has no 'scale'");
        return new Attention(build.Child<Conv>(node, "qkv"), build.Child<Conv>(node, "proj"), build.Child<Conv>(node, "pe"),
            Need("num_heads"), Need("key_dim"), Need("head_dim"), scale);
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        long b = x.shape[0], c = x.shape[1], h = x.shape[2], w = x.shape[3];
        var parts = qkv.call(x).view(b, _heads, _keyDim * 2 + _headDim, h * w).split([_keyDim, _keyDim, _headDim], 2);
        var (q, k, v) = (parts[0], parts[1], parts[2]);
        var weights = matmul(q.transpose(-2, -1), k).mul(TorchScalars.Of(_scale)).softmax(-1);
        var attended = matmul(v, weights.transpose(-2, -1)).view(b, c, h, w).Plus(pe.call(v.reshape(b, c, h, w)));
        return proj.call(attended);
    }

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs)
    {
        string x = inputs[0];
        var parts = g.Split(g.Reshape(g.Module(qkv, x), 0, _heads, _keyDim * 2 + _headDim, -1), 2, _keyDim, _keyDim, _headDim);
        var (q, k, v) = (parts[0], parts[1], parts[2]);
        string weights = g.Op("Softmax", [g.Mul(g.Op("MatMul", [g.Transpose(q, 0, 1, 3, 2), k]), g.Scalar((float)_scale))], OnnxGraph.Int("axis", -1));
        string attended = g.Op("MatMul", [v, g.Transpose(weights, 0, 1, 3, 2)]);
        string sum = g.Add(g.ReshapeLike(attended, x), g.Module(pe, g.ReshapeLike(v, x)));
        return g.Module(proj, sum);
    }
}
