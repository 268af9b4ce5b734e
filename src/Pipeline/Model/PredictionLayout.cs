namespace StreamAnalyzer.Pipeline.Model;

/// <summary>
/// How a detect head lays out its predictions: what NMS, explanation targets, layer selection and the level of a
/// detection read, so that none of them needs to know a model family.
/// <para>
/// <c>Pred</c> rows (B, N, <see cref="Columns"/>) hold decoded boxes - centre x, centre y, width, height in input
/// pixels - then the objectness when the family has one, then one score per class, after the sigmoid. <c>Logits</c>
/// rows hold the same detections' scores before the sigmoid, at <see cref="LogitObjectnessColumn"/> and
/// <see cref="LogitClassColumn"/>. Rows are ordered by level, then anchor, grid row and grid column.
/// </para>
/// </summary>
/// <param name="Encoding">How the head encodes boxes before decoding.</param>
/// <param name="NumClasses">Number of classes.</param>
/// <param name="HasObjectness">Whether rows carry an objectness score (YOLOv5/YOLOv7) or not (Ultralytics).</param>
/// <param name="AnchorsPerCell">Predictions per grid cell (1 for anchor-free heads).</param>
/// <param name="Strides">Input pixels per grid cell, per level.</param>
/// <param name="LogitObjectnessColumn">Column of the objectness logit in a <c>Logits</c> row, or null.</param>
/// <param name="LogitClassColumn">Column of the first class logit in a <c>Logits</c> row.</param>
/// <param name="UpstreamChannelsFirst">Upstream's own output is (B, Columns, N) rather than (B, N, Columns).</param>
public sealed record PredictionLayout(BoxEncoding Encoding, int NumClasses, bool HasObjectness, int AnchorsPerCell,
    IReadOnlyList<float> Strides, int? LogitObjectnessColumn, int LogitClassColumn, bool UpstreamChannelsFirst)
{
    /// <summary>Column of the objectness in a <c>Pred</c> row, or -1 without one.</summary>
    public int ObjectnessColumn => HasObjectness ? 4 : -1;

    /// <summary>Column of the first class score in a <c>Pred</c> row.</summary>
    public int ClassColumn => HasObjectness ? 5 : 4;

    /// <summary>Columns of a <c>Pred</c> row.</summary>
    public int Columns => ClassColumn + NumClasses;

    /// <summary>Number of detection levels.</summary>
    public int NumLevels => Strides.Count;

    /// <summary>Rows of the prediction for an input of <paramref name="height"/> x <paramref name="width"/>.</summary>
    public long RowCount(int height, int width)
    {
        long rows = 0;
        for (int level = 0; level < NumLevels; level++) rows += LevelRows(level, height, width);
        return rows;
    }

    /// <summary>Where row <paramref name="row"/> of the prediction for a <paramref name="height"/> x <paramref name="width"/> input comes from.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The row is beyond the prediction.</exception>
    public RowLocation Locate(int row, int height, int width)
    {
        long start = 0;
        for (int level = 0; level < NumLevels; level++)
        {
            long rows = LevelRows(level, height, width);
            if (row < start + rows)
            {
                int s = (int)Strides[level];
                int nx = width / s, ny = height / s;
                long local = row - start;
                int anchor = (int)(local / ((long)nx * ny));
                int cell = (int)(local % ((long)nx * ny));
                return new RowLocation(level, anchor, cell / nx, cell % nx);
            }
            start += rows;
        }
        throw new ArgumentOutOfRangeException(nameof(row), $"row {row} is beyond the prediction for {height}x{width}");
    }

    private long LevelRows(int level, int height, int width)
    {
        int s = (int)Strides[level];
        return (long)AnchorsPerCell * (height / s) * (width / s);
    }
}
