namespace StreamAnalyzer.Pipeline.Detection;

/// <summary>Detections of one frame, where the frame sat in the model input, and the time each stage took.</summary>
public sealed record DetectionResult(IReadOnlyList<Detection> Detections, LetterboxGeometry Geometry, StageTimings Timings);
