using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>YOLOv5's and Ultralytics' <c>Bottleneck</c>: two Convs, plus the input when the block has a residual (<c>add</c>).</summary>
public sealed class Bottleneck : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Conv cv1;
    private readonly Conv cv2;
    private readonly bool _add;

    private Bottleneck(Conv cv1, Conv cv2, bool add) : base(nameof(Bottleneck))
    {
        this.cv1 = cv1;
        this.cv2 = cv2;
        _add = add;
        RegisterComponents();
    }

    internal static Bottleneck FromNode(CheckpointModule node, ModuleFactory build) =>
        new(build.Child<Conv>(node, "cv1"), build.Child<Conv>(node, "cv2"),
            node.Bool("add") ?? throw new ArchitectureException($"'{node.Path}': Bottleneck has no 'add'"));

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        var y = cv2.call(cv1.call(x));
        return _add ? x.Plus(y) : y;
    }

    /// <summary>The same on a window, without padding (see <see cref="UnpaddedWindow"/>): the shortcut adds the input's centre.</summary>
    internal Tensor? ForwardUnpadded(Tensor x)
    {
        if (cv1.ForwardUnpadded(x) is not { } hidden || cv2.ForwardUnpadded(hidden) is not { } y) return null;
        return _add ? UnpaddedWindow.Centre(x, y).Plus(y) : y;
    }

    /// <summary>Writes the block into a window program (<see cref="UnpaddedWindow.Lower"/>).</summary>
    internal int? Lower(WindowProgram.Builder program, int x)
    {
        if (cv1.Lower(program, x) is not { } hidden || cv2.Lower(program, hidden) is not { } y) return null;
        return _add ? program.Add(x, y) : y;
    }

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs)
    {
        string y = g.Module(cv2, g.Module(cv1, inputs[0]));
        return _add ? g.Add(inputs[0], y) : y;
    }
}
