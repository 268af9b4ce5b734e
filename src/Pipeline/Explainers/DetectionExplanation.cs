namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>The maps of one detection, one per layer explained.</summary>
public sealed record DetectionExplanation(Pipeline.Detection.Detection Detection, IReadOnlyList<CamMap> Maps);
