using StreamAnalyzer.Pipeline.Model;

namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>A forward pass made for explanations (<see cref="CamExplainer.Forward"/>): its outputs and where its gradients come from.</summary>
public sealed class ExplainedForward
{
    internal ExplainedForward(ModelOutput output, IGradientSource? gradients)
    {
        Output = output;
        Gradients = gradients;
    }

    /// <summary>The prediction (detections come from it) and the explained layers' activations.</summary>
    public ModelOutput Output { get; }

    internal IGradientSource? Gradients { get; }
}
