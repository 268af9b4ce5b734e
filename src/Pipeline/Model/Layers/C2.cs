using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>Ultralytics' <c>C2</c> (the YOLOv8 P6 necks): <c>cv1</c> splits into (a, b), a goes through the bottlenecks <c>m</c>, <c>cv2</c> fuses (m(a), b).</summary>
public sealed class C2 : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Conv cv1;
    private readonly Conv cv2;
    private readonly Sequential m;

    private C2(Conv cv1, Conv cv2, Sequential m) : base(nameof(C2))
    {
        this.cv1 = cv1;
        this.cv2 = cv2;
        this.m = m;
        RegisterComponents();
    }

    internal static C2 FromNode(CheckpointModule node, ModuleFactory build) =>
        new(build.Child<Conv>(node, "cv1"), build.Child<Conv>(node, "cv2"), build.Child<Sequential>(node, "m"));

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        var halves = cv1.call(x).chunk(2, 1);
        return cv2.call(cat([m.call(halves[0]), halves[1]], 1));
    }

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs)
    {
        long half = cv1.OutChannels / 2;
        var halves = cv1.ToOnnxParts(g, inputs[0], half, half);
        return g.Module(cv2, g.Concat([g.Module(m, halves[0]), halves[1]], 1));
    }
}
