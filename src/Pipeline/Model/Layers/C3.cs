using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>
/// The CSP block with three convolutions (<c>C3</c> in YOLOv5 and Ultralytics, and YOLO11's <c>C3k</c>):
/// <c>cv3(cat(m(cv1(x)), cv2(x)))</c>, <c>m</c> a chain of bottlenecks.
/// </summary>
public sealed class C3 : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Conv cv1;
    private readonly Conv cv2;
    private readonly Conv cv3;
    private readonly Sequential m;

    private C3(Conv cv1, Conv cv2, Conv cv3, Sequential m) : base(nameof(C3))
    {
        this.cv1 = cv1;
        this.cv2 = cv2;
        this.cv3 = cv3;
        this.m = m;
        RegisterComponents();
    }

    internal static C3 FromNode(CheckpointModule node, ModuleFactory build) =>
        new(build.Child<Conv>(node, "cv1"), build.Child<Conv>(node, "cv2"), build.Child<Conv>(node, "cv3"), build.Child<Sequential>(node, "m"));

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => cv3.call(cat([m.call(cv1.call(x)), cv2.call(x)], 1));

    /// <summary>
    /// The same on a window, without padding (see <see cref="UnpaddedWindow"/>): the side branch is cut to the main
    /// branch's centre before they are joined.
    /// </summary>
    internal Tensor? ForwardUnpadded(Tensor x)
    {
        if (cv1.ForwardUnpadded(x) is not { } hidden || UnpaddedWindow.Forward(m, hidden) is not { } main || cv2.ForwardUnpadded(x) is not { } side) return null;
        return cv3.ForwardUnpadded(cat([main, UnpaddedWindow.Centre(side, main)], 1));
    }

    /// <summary>Writes the block into a window program (<see cref="UnpaddedWindow.Lower"/>).</summary>
    internal int? Lower(WindowProgram.Builder program, int x)
    {
        if (cv1.Lower(program, x) is not { } hidden || UnpaddedWindow.Lower(program, m, hidden) is not { } main || cv2.Lower(program, x) is not { } side) return null;
        return cv3.Lower(program, program.Concat([main, side]));
    }

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs) =>
        g.Module(cv3, g.Concat([g.Module(m, g.Module(cv1, inputs[0])), g.Module(cv2, inputs[0])], 1));
}
