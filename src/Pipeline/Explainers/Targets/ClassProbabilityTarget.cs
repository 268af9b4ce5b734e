using StreamAnalyzer.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Targets;

/// <summary>The class probability <c>sigmoid(logit)</c> of the detected class.</summary>
public sealed class ClassProbabilityTarget : CamTarget
{
    /// <inheritdoc/>
    public override string Name => "prob";

    /// <inheritdoc/>
    public override Tensor Score(Tensor logitsRow, int classId, PredictionLayout layout) => logitsRow[layout.LogitClassColumn + classId].sigmoid();

    internal override bool ScoreGradient(ReadOnlySpan<float> logitsRow, int classId, PredictionLayout layout, Span<float> gradient)
    {
        int column = layout.LogitClassColumn + classId;
        float s = Sigmoid(logitsRow[column]);
        gradient[column] = s * (1 - s);
        return true;
    }
}
