using OpenCvSharp;

namespace StreamAnalyzer.Pipeline.Rendering;

/// <summary>A fixed, distinguishable colour per class id (BGR), the same in every image and video.</summary>
public static class ClassPalette
{
    private static readonly Scalar[] Colors =
    [
        Hex("FF3838"), Hex("2C99A8"), Hex("FF9D97"), Hex("FF701F"), Hex("FFB21D"), Hex("CFD231"), Hex("48F90A"),
        Hex("92CC17"), Hex("3DDB86"), Hex("1A9334"), Hex("00D4BB"), Hex("FF37C7"), Hex("00C2FF"), Hex("344593"),
        Hex("6473FF"), Hex("0018EC"), Hex("8438FF"), Hex("520085"), Hex("CB38FF"), Hex("FF95C8"),
    ];

    /// <summary>The colour of <paramref name="classId"/>.</summary>
    public static Scalar For(int classId) => Colors[((classId % Colors.Length) + Colors.Length) % Colors.Length];

    private static Scalar Hex(string rgb) =>
        new(Convert.ToInt32(rgb[4..6], 16), Convert.ToInt32(rgb[2..4], 16), Convert.ToInt32(rgb[0..2], 16));
}
