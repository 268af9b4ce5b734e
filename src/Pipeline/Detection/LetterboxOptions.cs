namespace StreamAnalyzer.Pipeline.Detection;

/// <summary>How frames are fitted to the model input (upstream <c>letterbox</c>).</summary>
/// <param name="Height">Target height (the <c>--img-size</c>).</param>
/// <param name="Width">Target width.</param>
/// <param name="Auto">Pad only to the next multiple of <paramref name="Stride"/> (detect.py's default) instead of the full target.</param>
/// <param name="ScaleUp">Allow enlarging small frames (else only shrink).</param>
/// <param name="Stride">The model's largest stride.</param>
/// <param name="PadValue">Gray level of the padding.</param>
/// <param name="RoundedPadding">Boxes are mapped back with the padding rounded (see <see cref="LetterboxGeometry.RoundedPadding"/>).</param>
public sealed record LetterboxOptions(int Height, int Width, bool Auto = true, bool ScaleUp = true, int Stride = 32, byte PadValue = 114,
    bool RoundedPadding = false)
{
    /// <summary>A square target of <paramref name="size"/>, rounded up to a multiple of the stride (upstream <c>check_img_size</c>).</summary>
    public static LetterboxOptions Square(int size, int stride, bool auto = true, bool scaleUp = true, bool roundedPadding = false)
    {
        int s = (int)Math.Ceiling(size / (double)stride) * stride;
        return new LetterboxOptions(s, s, auto, scaleUp, stride, RoundedPadding: roundedPadding);
    }
}
