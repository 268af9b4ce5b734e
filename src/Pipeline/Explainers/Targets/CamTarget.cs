using StreamAnalyzer.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Targets;

/// <summary>What is differentiated for a detection: a scalar computed from its prediction row.</summary>
public abstract class CamTarget
{
    /// <summary>Name used on the command line (<c>--target</c>).</summary>
    public abstract string Name { get; }

    /// <summary>The score of <paramref name="classId"/> from a row of the model's <c>Logits</c> (pre-sigmoid), laid out as <paramref name="layout"/> says.</summary>
    public abstract Tensor Score(Tensor logitsRow, int classId, PredictionLayout layout);

    /// <summary>
    /// Writes dScore/dRow into <paramref name="gradient"/> (zeros on entry, one value per column of
    /// <paramref name="logitsRow"/>) where the target has it in closed form; false where it has not (the gradient is then
    /// taken by libtorch's autograd through <see cref="Score"/>).
    /// </summary>
    internal virtual bool ScoreGradient(ReadOnlySpan<float> logitsRow, int classId, PredictionLayout layout, Span<float> gradient) => false;

    /// <summary>The logistic function, as libtorch's sigmoid computes it in float32.</summary>
    internal static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    /// <summary>The target named <paramref name="name"/>: <c>logit</c> (default), <c>prob</c> or <c>conf</c>.</summary>
    public static CamTarget Parse(string name) => name.ToLowerInvariant() switch
    {
        "logit" => new ClassLogitTarget(),
        "prob" or "probability" => new ClassProbabilityTarget(),
        "conf" or "confidence" => new ConfidenceTarget(),
        _ => throw new Runtime.UserInputException("not a target; choose one of logit, prob, conf"),
    };
}
