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

    /// <summary>The target named <paramref name="name"/>: <c>logit</c> (default), <c>prob</c> or <c>conf</c>.</summary>
    public static CamTarget Parse(string name) => name.ToLowerInvariant() switch
    {
        "logit" => new ClassLogitTarget(),
        "prob" or "probability" => new ClassProbabilityTarget(),
        "conf" or "confidence" => new ConfidenceTarget(),
        _ => throw new Runtime.UserInputException("not a target; choose one of logit, prob, conf"),
    };
}
