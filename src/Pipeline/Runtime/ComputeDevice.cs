using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Runtime;

/// <summary>Resolves a <c>--device</c> value (<c>cpu</c>, <c>cuda</c>, <c>cuda:1</c>, <c>0</c>) to a TorchSharp device.</summary>
public static class ComputeDevice
{
    /// <summary>The device named by <paramref name="name"/>; a clear error when CUDA is asked for but unavailable.</summary>
    /// <exception cref="UserInputException">Unknown device, or CUDA unavailable in this build or on this machine.</exception>
    public static Device Resolve(string? name)
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
            return new Device(DeviceType.CUDA, index);
        }
        throw new UserInputException($"device '{name}' is not one of cpu, cuda, cuda:N");
    }
}
