using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>Where dScore/dA comes from for the detections of one forward pass.</summary>
internal interface IGradientSource
{
    /// <summary>Lets the source compute the gradients of several detections of one image together (optional).</summary>
    void Prepare(int batchIndex, IReadOnlyList<(Detection.Detection Detection, int Level, IReadOnlyList<ExplainTarget> Targets)> detections) { }

    /// <summary>
    /// The gradient of detection <paramref name="detection"/>'s score (image <paramref name="batchIndex"/>, level
    /// <paramref name="level"/>) with respect to each of <paramref name="targets"/>' outputs for that image, on the
    /// window of each (C, H, W) map where it can be non-zero.
    /// </summary>
    IReadOnlyDictionary<ExplainTarget, WindowedGradient> Gradients(int batchIndex, Detection.Detection detection, int level, IReadOnlyList<ExplainTarget> targets);
}
