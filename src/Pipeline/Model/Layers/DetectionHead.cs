using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>
/// The last layer of a detection network: turns the feature maps of each level into predictions laid out as its
/// <see cref="Layout"/> says. One implementation per head design (anchor-based, anchor-free); everything downstream
/// reads the layout, not the family.
/// </summary>
public abstract class DetectionHead(string name) : MultiInputLayer(name)
{
    /// <summary>The upstream class name, e.g. <c>IDetect</c> or <c>Detect</c>.</summary>
    public abstract string Kind { get; }

    /// <summary>Number of classes.</summary>
    public abstract int NumClasses { get; }

    /// <summary>Detection levels (3 for P5 models, 4 for P6).</summary>
    public abstract int NumLevels { get; }

    /// <summary>Input stride of each level, e.g. 8, 16, 32.</summary>
    public abstract IReadOnlyList<float> Strides { get; }

    /// <summary>How predictions are laid out.</summary>
    public abstract PredictionLayout Layout { get; }

    internal abstract void SetStrides(float[] strides);

    /// <summary>
    /// Runs the head on one feature map per level. <c>Pred</c> is (B, N, <see cref="PredictionLayout.Columns"/>), decoded
    /// as the layout describes; <c>Logits</c> holds each row's scores before the sigmoid, in the graph when gradients are recorded.
    /// </summary>
    public abstract (Tensor Pred, Tensor Logits) ForwardHead(IReadOnlyList<Tensor> inputs);

    /// <summary>The head's ONNX form: <c>Pred</c> and <c>Logits</c> value names, laid out as <see cref="ForwardHead"/> returns them.</summary>
    internal abstract (string Pred, string Logits) ToOnnx(Onnx.OnnxGraph graph, IReadOnlyList<string> inputs);

    /// <summary>
    /// The pre-sigmoid scores of one level from its input feature map (any spatial size): (B, rows, columns) with the
    /// same columns as <c>Logits</c> and rows ordered anchor, grid row, grid column of <paramref name="input"/>.
    /// </summary>
    public abstract Tensor LevelLogits(int level, Tensor input);

    /// <summary>
    /// <see cref="LevelLogits"/> on a window cut from inside the level's input, without the head's convolution padding
    /// (<see cref="UnpaddedWindow"/>): rows for the window less each kernel's reach; null where the head cannot.
    /// </summary>
    internal virtual Tensor? LevelLogitsUnpadded(int level, Tensor input) => null;

    /// <summary>
    /// Writes what <see cref="LevelLogitsUnpadded"/> computes into a window program after node <paramref name="x"/>;
    /// null where the program cannot run it.
    /// </summary>
    internal virtual int? LowerLevel(WindowProgram.Builder program, int level, int x) => null;

    /// <summary>The level a submodule of the head serves (<c>m.1</c>, <c>cv3.2.0</c>), or null when it serves all of them or none.</summary>
    public abstract int? LevelOfSubmodule(string path);

    /// <inheritdoc/>
    public override Tensor forward(IReadOnlyList<Tensor> inputs)
    {
        var (pred, logits) = ForwardHead(inputs);
        logits.Dispose();
        return pred;
    }

    /// <summary>The level index in a path whose first part names a per-level list (<c>cv3.2.0</c> -> 2), when the first part is one of <paramref name="lists"/>.</summary>
    protected static int? LevelIndex(string path, params string[] lists)
    {
        var parts = path.Split('.');
        return parts.Length >= 2 && lists.Contains(parts[0]) && int.TryParse(parts[1], out int level) ? level : null;
    }
}
