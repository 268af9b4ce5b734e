using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Model.Onnx;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>A forward pass made for explanations (<see cref="CamExplainer.Forward"/>): its outputs and where its gradients come from.</summary>
public sealed class ExplainedForward
{
    internal ExplainedForward(Tensor input, ModelOutput output, IGradientSource? gradients, OnnxRuntimeModel? onnx = null)
    {
        Onnx = onnx;
        Input = input;
        Output = output;
        Gradients = gradients;
    }

    /// <summary>The input batch (B, 3, H, W) the pass ran on (what perturbation methods perturb).</summary>
    public Tensor Input { get; }

    /// <summary>The prediction (detections come from it) and the explained layers' activations.</summary>
    public ModelOutput Output { get; }

    internal IGradientSource? Gradients { get; }

    // The backend that ran the pass, if ONNX Runtime: perturbed copies of the input run there too.
    internal OnnxRuntimeModel? Onnx { get; }
}
