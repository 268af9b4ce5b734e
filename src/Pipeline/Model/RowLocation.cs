namespace StreamAnalyzer.Pipeline.Model;

/// <summary>Where a prediction row comes from: its detection level, anchor and grid cell.</summary>
/// <param name="Level">Detection level (0 = the finest, P3).</param>
/// <param name="Anchor">Anchor index within the cell (always 0 for anchor-free heads).</param>
/// <param name="GridY">Grid row at that level.</param>
/// <param name="GridX">Grid column at that level.</param>
public readonly record struct RowLocation(int Level, int Anchor, int GridY, int GridX);
