using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Detection;

/// <summary>How a <see cref="Detector"/> prepares frames, filters boxes and where it runs.</summary>
/// <param name="ImageSize">Target input size (<c>--img-size</c>), rounded up to a multiple of the model stride.</param>
/// <param name="Nms">Post-processing settings.</param>
/// <param name="Device">Where the model runs (null: CPU).</param>
/// <param name="Half">Run in float16 (CUDA only).</param>
/// <param name="AutoPad">Pad to the next stride multiple (detect.py's default) rather than a full square.</param>
/// <param name="ScaleUp">Enlarge frames smaller than the target.</param>
/// <param name="Backend">What runs the forward pass.</param>
public sealed record DetectorOptions(int ImageSize = 640, NmsOptions? Nms = null, Device? Device = null, bool Half = false,
    bool AutoPad = true, bool ScaleUp = true, InferenceBackend Backend = InferenceBackend.Auto);
