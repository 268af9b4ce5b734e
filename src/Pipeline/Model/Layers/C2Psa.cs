using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>YOLO11's <c>C2PSA</c>: <c>cv1</c> splits into (a, b), b goes through the attention blocks <c>m</c>, <c>cv2</c> fuses (a, b).</summary>
public sealed class C2Psa : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Conv cv1;
    private readonly Conv cv2;
    private readonly Sequential m;
    private readonly long _hidden;

    private C2Psa(Conv cv1, Conv cv2, Sequential m, long hidden) : base(nameof(C2Psa))
    {
        this.cv1 = cv1;
        this.cv2 = cv2;
        this.m = m;
        _hidden = hidden;
        RegisterComponents();
    }

    internal static C2Psa FromNode(CheckpointModule node, ModuleFactory build) =>
        new(build.Child<Conv>(node, "cv1"), build.Child<Conv>(node, "cv2"), build.Child<Sequential>(node, "m"),
            node.Long("c") ?? throw new ArchitectureException($"'{node.Path}': C2PSA has no 'c'"));

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        var halves = cv1.call(x).split([_hidden, _hidden], 1);
        return cv2.call(cat([halves[0], m.call(halves[1])], 1));
    }

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs)
    {
        var halves = cv1.ToOnnxParts(g, inputs[0], _hidden, _hidden);
        return g.Module(cv2, g.Concat([halves[0], g.Module(m, halves[1])], 1));
    }
}
