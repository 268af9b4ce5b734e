namespace StreamAnalyzer.Pipeline.Detection;

/// <summary>One detected object.</summary>
/// <param name="Box">Box in original-frame pixels (clipped to the frame).</param>
/// <param name="InputBox">Box in letterboxed input pixels.</param>
/// <param name="ClassId">Class index.</param>
/// <param name="ClassName">Class name from the checkpoint.</param>
/// <param name="Confidence">Objectness x class probability, as upstream NMS ranks.</param>
/// <param name="Row">Row of the model's prediction this box came from (level, anchor, cell): what explainers differentiate.</param>
public sealed record Detection(BoxF Box, BoxF InputBox, int ClassId, string ClassName, float Confidence, int Row);
