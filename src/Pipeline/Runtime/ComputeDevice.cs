using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Runtime;

/// <summary>Resolves a <c>--device</c> value (<c>cpu</c>, <c>cuda</c>, <c>cuda:1</c>, <c>0</c>) to a TorchSharp device.</summary>
public static class ComputeDevice
{
    /// <summary>
    /// The device named by <paramref name="name"/>; a clear error when CUDA is asked for but unavailable. On CUDA it also
    /// sets whether float32 convolutions and matrix products may use TF32 (<paramref name="tf32"/>, a process-wide libtorch
    /// setting). libtorch lets cuDNN use TF32 unless told otherwise; off, a CUDA run gives the CPU's detections (TF32 rounds
    /// inputs to 10 mantissa bits: on the demo clip it moved boxes by up to 4 px and changed the detections of 3 frames in 300).
    /// </summary>
    /// <exception cref="UserInputException">Unknown device, or CUDA unavailable in this build or on this machine.</exception>
    public static Device Resolve(string? name, bool tf32 = false)
    {
        string n = (name ?? "cpu").Trim().ToLowerInvariant();
        if (n is "" or "cpu") return CPU;
        int index = 0;
        if (n == "cuda" || n.StartsWith("cuda:", StringComparison.Ordinal) && int.TryParse(n[5..], out index) || int.TryParse(n, out index))
        {
            if (!cuda.is_available())
                throw new UserInputException($"device '{name}': CUDA is not available (this build uses the CPU libtorch unless built with -p:TorchBackend=cuda, and needs an NVIDIA driver)");
            if (index >= cuda.device_count())
                throw new UserInputException($"device '{name}': only {cuda.device_count()} CUDA device(s) present");
            backends.cudnn.allow_tf32 = tf32;
            backends.cuda.matmul.allow_tf32 = tf32;
            return new Device(DeviceType.CUDA, index);
        }
        throw new UserInputException($"device '{name}' is not one of cpu, cuda, cuda:N");
    }
}
