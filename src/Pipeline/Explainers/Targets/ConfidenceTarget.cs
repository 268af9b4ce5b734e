using StreamAnalyzer.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Targets;

/// <summary>The detection confidence NMS ranks by: <c>sigmoid(obj) x sigmoid(cls)</c>, or <c>sigmoid(cls)</c> for heads without objectness.</summary>
public sealed class ConfidenceTarget : CamTarget
{
    /// <inheritdoc/>
    public override string Name => "conf";

    /// <inheritdoc/>
    public override Tensor Score(Tensor logitsRow, int classId, PredictionLayout layout)
    {
        var cls = logitsRow[layout.LogitClassColumn + classId].sigmoid();
        return layout.LogitObjectnessColumn is int obj ? logitsRow[obj].sigmoid() * cls : cls;
    }
}
