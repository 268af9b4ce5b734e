using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>YOLOv5's spatial pyramid pooling (<c>SPP</c>): parallel max-pools of several sizes, concatenated with their input and fused by <c>cv2</c>.</summary>
public sealed class Spp : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Conv cv1;
    private readonly Conv cv2;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> m;

    private Spp(Conv cv1, Conv cv2, ModuleList<nn.Module<Tensor, Tensor>> m) : base(nameof(Spp))
    {
        this.cv1 = cv1;
        this.cv2 = cv2;
        this.m = m;
        RegisterComponents();
    }

    internal static Spp FromNode(CheckpointModule node, ModuleFactory build) =>
        new(build.Child<Conv>(node, "cv1"), build.Child<Conv>(node, "cv2"), nn.ModuleList(build.Items(node, "m")));

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        var y = cv1.call(x);
        return cv2.call(cat(m.Select(pool => pool.call(y)).Prepend(y).ToList(), 1));
    }

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs)
    {
        string y = g.Module(cv1, inputs[0]);
        return g.Module(cv2, g.Concat(m.Select(pool => g.Module(pool, y)).Prepend(y), 1));
    }
}
