using OpenCvSharp;
using StreamAnalyzer.Pipeline.Rendering;
using Xunit;

namespace StreamAnalyzer.Pipeline.Tests.Rendering;

public class HeatmapRendererTests
{
    [Fact]
    public void BlendWeighsOpenCvsJetColourByTheMapSoColdPixelsKeepTheSceneColours()
    {
        var random = new Random(7);
        var pixels = new byte[37 * 53 * 3];
        random.NextBytes(pixels);
        using var frame = Mat.FromPixelData(37, 53, MatType.CV_8UC3, pixels).Clone();
        var values = new float[37 * 53];
        for (int i = 0; i < values.Length; i++) values[i] = i % 5 == 0 ? 0 : (float)random.NextDouble();
        values[1] = 1;
        using var map = Mat.FromPixelData(37, 53, MatType.CV_32FC1, values);

        using var colored = new Mat();
        using (var bytes = new Mat())
        {
            map.ConvertTo(bytes, MatType.CV_8UC1, 255);
            Cv2.ApplyColorMap(bytes, colored, ColormapTypes.Jet);
        }
        const double alpha = 0.6;
        HeatmapRenderer.Blend(frame, map, alpha);

        int worst = 0;
        for (int y = 0; y < 37; y++)
        for (int x = 0; x < 53; x++)
        {
            double w = alpha * values[y * 53 + x];
            var got = frame.At<Vec3b>(y, x);
            var jet = colored.At<Vec3b>(y, x);
            for (int c = 0; c < 3; c++)
            {
                double want = (1 - w) * pixels[(y * 53 + x) * 3 + c] + w * jet[c];
                worst = Math.Max(worst, (int)Math.Ceiling(Math.Abs(got[c] - want) - 0.5));
                if (values[y * 53 + x] == 0) Assert.Equal(pixels[(y * 53 + x) * 3 + c], got[c]);
            }
        }
        Assert.True(worst <= 1, $"largest difference {worst}");
    }

    [Fact]
    public void BlendRefusesAMapOfAnotherSize()
    {
        using var frame = new Mat(10, 10, MatType.CV_8UC3, Scalar.All(0));
        using var map = new Mat(10, 11, MatType.CV_32FC1, Scalar.All(0));
        Assert.Throws<ArgumentException>(() => HeatmapRenderer.Blend(frame, map));
    }
}
