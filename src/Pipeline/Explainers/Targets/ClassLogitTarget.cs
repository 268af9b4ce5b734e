using StreamAnalyzer.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Targets;

/// <summary>The raw class logit of the detected class, before the sigmoid (the reference's choice).</summary>
public sealed class ClassLogitTarget : CamTarget
{
    /// <inheritdoc/>
    public override string Name => "logit";

    /// <inheritdoc/>
    public override Tensor Score(Tensor logitsRow, int classId, PredictionLayout layout) => logitsRow[layout.LogitClassColumn + classId];

    internal override bool ScoreGradient(ReadOnlySpan<float> logitsRow, int classId, PredictionLayout layout, Span<float> gradient)
    {
        gradient[layout.LogitClassColumn + classId] = 1;
        return true;
    }
}
