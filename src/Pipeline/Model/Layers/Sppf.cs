using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>Fast spatial pyramid pooling (<c>SPPF</c>, YOLOv5 and Ultralytics): one max-pool applied three times in a chain, all four stages fused by <c>cv2</c>.</summary>
public sealed class Sppf : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Conv cv1;
    private readonly Conv cv2;
    private readonly MaxPool2d m;

    private Sppf(Conv cv1, Conv cv2, MaxPool2d m) : base(nameof(Sppf))
    {
        this.cv1 = cv1;
        this.cv2 = cv2;
        this.m = m;
        RegisterComponents();
    }

    internal static Sppf FromNode(CheckpointModule node, ModuleFactory build) =>
        new(build.Child<Conv>(node, "cv1"), build.Child<Conv>(node, "cv2"), build.Child<MaxPool2d>(node, "m"));

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        var y0 = cv1.call(x);
        var y1 = m.call(y0);
        var y2 = m.call(y1);
        return cv2.call(cat([y0, y1, y2, m.call(y2)], 1));
    }

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs)
    {
        string y0 = g.Module(cv1, inputs[0]);
        string y1 = g.Module(m, y0), y2 = g.Module(m, y1);
        return g.Module(cv2, g.Concat([y0, y1, y2, g.Module(m, y2)], 1));
    }
}
