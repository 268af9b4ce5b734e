namespace StreamAnalyzer.Pipeline.Detection;

/// <summary>Where a frame went in the model input: the scale, the padding, and the way back.</summary>
/// <param name="SourceWidth">Original frame width.</param>
/// <param name="SourceHeight">Original frame height.</param>
/// <param name="InputWidth">Letterboxed input width.</param>
/// <param name="InputHeight">Letterboxed input height.</param>
/// <param name="Ratio">Scale applied to the frame.</param>
/// <param name="Left">Columns of padding on the left.</param>
/// <param name="Top">Rows of padding on top.</param>
/// <param name="ResizedWidth">Width of the resized frame inside the padding.</param>
/// <param name="ResizedHeight">Height of the resized frame inside the padding.</param>
public sealed record LetterboxGeometry(int SourceWidth, int SourceHeight, int InputWidth, int InputHeight, double Ratio,
    int Left, int Top, int ResizedWidth, int ResizedHeight)
{
    /// <summary>
    /// Maps a point from input pixels back to the original frame and clips it, as upstream <c>scale_coords</c> does
    /// (padding taken as <c>(input - source * ratio) / 2</c>).
    /// </summary>
    public (float X, float Y) PointToSource(float x, float y)
    {
        double padX = (InputWidth - SourceWidth * Ratio) / 2;
        double padY = (InputHeight - SourceHeight * Ratio) / 2;
        return ((float)Math.Clamp((x - padX) / Ratio, 0, SourceWidth), (float)Math.Clamp((y - padY) / Ratio, 0, SourceHeight));
    }

    /// <summary>Maps a box from input pixels back to the original frame and clips it (see <see cref="PointToSource"/>).</summary>
    public BoxF ToSource(BoxF box)
    {
        double padX = (InputWidth - SourceWidth * Ratio) / 2;
        double padY = (InputHeight - SourceHeight * Ratio) / 2;
        float X(double v) => (float)Math.Clamp((v - padX) / Ratio, 0, SourceWidth);
        float Y(double v) => (float)Math.Clamp((v - padY) / Ratio, 0, SourceHeight);
        return new BoxF(X(box.X1), Y(box.Y1), X(box.X2), Y(box.Y2));
    }
}
