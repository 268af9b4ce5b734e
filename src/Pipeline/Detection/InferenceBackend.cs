namespace StreamAnalyzer.Pipeline.Detection;

/// <summary>What runs the network's forward pass (<c>--backend</c>). Gradients for explanations always use TorchSharp.</summary>
public enum InferenceBackend
{
    /// <summary>ONNX Runtime on the CPU, TorchSharp on CUDA.</summary>
    Auto,

    /// <summary>TorchSharp (libtorch), on any device.</summary>
    Torch,

    /// <summary>ONNX Runtime (CPU) on a graph built from the loaded model.</summary>
    Onnx,
}
