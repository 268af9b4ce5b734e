namespace StreamAnalyzer.Pipeline.Detection;

/// <summary>What runs the network's forward pass (<c>--backend</c>). Gradients for explanations always use TorchSharp.</summary>
public enum InferenceBackend
{
    /// <summary>ONNX Runtime on the CPU, TorchSharp on CUDA. Zero on purpose: the value an absent <c>--backend</c> gives.</summary>
    Auto = 0,

    /// <summary>TorchSharp (libtorch), on any device.</summary>
    Torch,

    /// <summary>ONNX Runtime (CPU) on a graph built from the loaded model.</summary>
    Onnx,
}
