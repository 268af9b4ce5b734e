using StreamAnalyzer.Pipeline.Explainers;

namespace StreamAnalyzer.Pipeline.Detection;

/// <summary>Detections of one frame, where the frame sat in the model input, the time each stage took, and the
/// explanations of its top detections when they were asked for.</summary>
public sealed record DetectionResult(IReadOnlyList<Detection> Detections, LetterboxGeometry Geometry, StageTimings Timings,
    IReadOnlyList<DetectionExplanation>? Explanations = null);
