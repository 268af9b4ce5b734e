using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>Upstream <c>DownC</c>: a strided 3x3 path and a max-pool path, concatenated (P6 models).</summary>
public sealed class DownC : nn.Module<Tensor, Tensor>, IOnnxExportable
{
    private readonly Conv cv1, cv2, cv3;
    private readonly MaxPool2d mp;

    private DownC(Conv cv1, Conv cv2, Conv cv3, MaxPool2d mp) : base(nameof(DownC))
    {
        (this.cv1, this.cv2, this.cv3, this.mp) = (cv1, cv2, cv3, mp);
        RegisterComponents();
    }

    /// <summary><c>DownC(c1, c2, n=1, k=2)</c>.</summary>
    internal static DownC Create(CheckpointModule? node, long c1, long c2, long k, string where) => new(
        Conv.Create(node?.Find("cv1"), c1, c1, 1, 1, where: $"{where}.cv1"),
        Conv.Create(node?.Find("cv2"), c1, c2 / 2, 3, k, where: $"{where}.cv2"),
        Conv.Create(node?.Find("cv3"), c1, c2 / 2, 1, 1, where: $"{where}.cv3"),
        ModuleHints.MaxPool2d(node?.Find("mp"), k, k, 0));

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        using var scope = NewDisposeScope();
        return cat([cv2.call(cv1.call(x)), cv3.call(mp.call(x))], 1).MoveToOuterDisposeScope();
    }

    string IOnnxExportable.ToOnnx(OnnxGraph g, IReadOnlyList<string> inputs) =>
        g.Concat([g.Module(cv2, g.Module(cv1, inputs[0])), g.Module(cv3, g.Module(mp, inputs[0]))], 1);
}
