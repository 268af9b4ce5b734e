using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>
/// Ultralytics' <c>C2f</c> and YOLO11's <c>C3k2</c> (the same computation; C3k2's blocks may be C3k): <c>cv1</c>
/// splits into two halves, each block of <c>m</c> runs on the newest part and every part is kept, <c>cv2</c> fuses them all.
/// </summary>
public sealed class C2f : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Conv cv1;
    private readonly Conv cv2;
    private readonly ModuleList<nn.Module<Tensor, Tensor>> m;

    private C2f(Conv cv1, Conv cv2, ModuleList<nn.Module<Tensor, Tensor>> m) : base(nameof(C2f))
    {
        this.cv1 = cv1;
        this.cv2 = cv2;
        this.m = m;
        RegisterComponents();
    }

    internal static C2f FromNode(CheckpointModule node, ModuleFactory build) =>
        new(build.Child<Conv>(node, "cv1"), build.Child<Conv>(node, "cv2"), nn.ModuleList(build.Items(node, "m")));

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        var parts = cv1.call(x).chunk(2, 1).ToList();
        foreach (var block in m) parts.Add(block.call(parts[^1]));
        return cv2.call(cat(parts, 1));
    }

    /// <summary>
    /// The same on a window, without padding (see <see cref="UnpaddedWindow"/>): the parts the blocks did not shrink
    /// are cut to the last block's centre before they are joined.
    /// </summary>
    internal Tensor? ForwardUnpadded(Tensor x)
    {
        if (cv1.ForwardUnpadded(x) is not { } y) return null;
        var parts = y.chunk(2, 1).ToList();
        foreach (var block in m)
        {
            if (UnpaddedWindow.Forward(block, parts[^1]) is not { } next) return null;
            parts.Add(next);
        }
        var smallest = parts[^1];
        return cv2.ForwardUnpadded(cat(parts.Select(p => UnpaddedWindow.Centre(p, smallest)).ToList(), 1));
    }

    /// <summary>Writes the block into a window program (<see cref="UnpaddedWindow.Lower"/>).</summary>
    internal int? Lower(WindowProgram.Builder program, int x)
    {
        if (cv1.Lower(program, x) is not { } y) return null;
        var parts = program.Chunk(y, 2).ToList();
        foreach (var block in m)
        {
            if (UnpaddedWindow.Lower(program, block, parts[^1]) is not { } next) return null;
            parts.Add(next);
        }
        return cv2.Lower(program, program.Concat(parts));
    }

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs)
    {
        long half = cv1.OutChannels / 2;
        var parts = cv1.ToOnnxParts(g, inputs[0], half, half).ToList();
        foreach (var block in m) parts.Add(g.Module(block, parts[^1]));
        return g.Module(cv2, g.Concat(parts, 1));
    }
}
