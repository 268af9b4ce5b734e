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
/// <param name="RoundedPadding">Map back with the padding rounded to whole pixels (Ultralytics' <c>scale_boxes</c>) instead of exact.</param>
public sealed record LetterboxGeometry(int SourceWidth, int SourceHeight, int InputWidth, int InputHeight, double Ratio,
    int Left, int Top, int ResizedWidth, int ResizedHeight, bool RoundedPadding = false)
{
    /// <summary>
    /// Maps a point from input pixels back to the original frame and clips it, as the family's upstream does
    /// (YOLOv5/YOLOv7 <c>scale_coords</c>: padding <c>(input - source * ratio) / 2</c>; Ultralytics: that, rounded).
    /// </summary>
    public (float X, float Y) PointToSource(float x, float y)
    {
        var (padX, padY) = Padding();
        return ((float)Math.Clamp((x - padX) / Ratio, 0, SourceWidth), (float)Math.Clamp((y - padY) / Ratio, 0, SourceHeight));
    }

    /// <summary>Maps a box from input pixels back to the original frame and clips it (see <see cref="PointToSource"/>).</summary>
    public BoxF ToSource(BoxF box)
    {
        var (padX, padY) = Padding();
        float X(double v) => (float)Math.Clamp((v - padX) / Ratio, 0, SourceWidth);
        float Y(double v) => (float)Math.Clamp((v - padY) / Ratio, 0, SourceHeight);
        return new BoxF(X(box.X1), Y(box.Y1), X(box.X2), Y(box.Y2));
    }

    private (double X, double Y) Padding()
    {
        double x = (InputWidth - SourceWidth * Ratio) / 2, y = (InputHeight - SourceHeight * Ratio) / 2;
        return RoundedPadding ? (Math.Round(x - 0.1, MidpointRounding.ToEven), Math.Round(y - 0.1, MidpointRounding.ToEven)) : (x, y);
    }
}
