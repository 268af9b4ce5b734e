using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Targets;

/// <summary>The detection confidence NMS ranks by: <c>sigmoid(obj) x sigmoid(cls)</c>.</summary>
public sealed class ConfidenceTarget : CamTarget
{
    /// <inheritdoc/>
    public override string Name => "conf";

    /// <inheritdoc/>
    public override Tensor Score(Tensor logitsRow, int classId) => logitsRow[4].sigmoid() * logitsRow[5 + classId].sigmoid();
}
