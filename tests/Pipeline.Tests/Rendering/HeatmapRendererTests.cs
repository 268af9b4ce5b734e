using OpenCvSharp;
using StreamAnalyzer.Pipeline.Rendering;
using Xunit;

namespace StreamAnalyzer.Pipeline.Tests.Rendering;

public class HeatmapRendererTests
{
    [Fact]
    public void BlendMatchesOpenCvsJetColormapAndWeightedSum()
    {
        var random = new Random(7);
        var pixels = new byte[37 * 53 * 3];
        random.NextBytes(pixels);
        using var frame = Mat.FromPixelData(37, 53, MatType.CV_8UC3, pixels).Clone();
        var values = new float[37 * 53];
        for (int i = 0; i < values.Length; i++) values[i] = (float)random.NextDouble();
        values[0] = 0;
        values[1] = 1;
        using var map = Mat.FromPixelData(37, 53, MatType.CV_32FC1, values);

        using var expected = frame.Clone();
        using (var bytes = new Mat())
        using (var colored = new Mat())
        {
            map.ConvertTo(bytes, MatType.CV_8UC1, 255);
            Cv2.ApplyColorMap(bytes, colored, ColormapTypes.Jet);
            Cv2.AddWeighted(expected, 0.4, colored, 0.6, 0, expected);
        }
        HeatmapRenderer.Blend(frame, map, 0.6);

        using var diff = new Mat();
        Cv2.Absdiff(frame, expected, diff);
        Assert.Equal(0, Cv2.CountNonZero(diff.Reshape(1)));
    }

    [Fact]
    public void BlendRefusesAMapOfAnotherSize()
    {
        using var frame = new Mat(10, 10, MatType.CV_8UC3, Scalar.All(0));
        using var map = new Mat(10, 11, MatType.CV_32FC1, Scalar.All(0));
        Assert.Throws<ArgumentException>(() => HeatmapRenderer.Blend(frame, map));
    }
}
