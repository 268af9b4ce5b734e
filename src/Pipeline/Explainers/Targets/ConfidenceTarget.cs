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

    internal override bool ScoreGradient(ReadOnlySpan<float> logitsRow, int classId, PredictionLayout layout, Span<float> gradient)
    {
        int column = layout.LogitClassColumn + classId;
        float cls = Sigmoid(logitsRow[column]);
        if (layout.LogitObjectnessColumn is not int obj)
        {
            gradient[column] = cls * (1 - cls);
            return true;
        }
        float objectness = Sigmoid(logitsRow[obj]);
        gradient[column] = objectness * cls * (1 - cls);
        gradient[obj] = cls * objectness * (1 - objectness);
        return true;
    }
}
