using System.Text.Json;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Numpy;
using StreamAnalyzer.Pipeline.Tests.Support;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Tests.Detection;

/// <summary>Our model input for a source image against the exact tensor upstream's letterbox produced.</summary>
public class LetterboxParityTests
{
    public static TheoryData<string, string, int, bool> Cases()
    {
        var data = new TheoryData<string, string, int, bool>();
        string manifest = Path.Combine(Fixtures.SharedRoot, "yolov7", "manifest.json");
        if (!File.Exists(manifest))
        {
            data.Add("missing-manifest", "", 0, false);
            return data;
        }
        using var doc = JsonDocument.Parse(File.ReadAllText(manifest));
        foreach (var group in doc.RootElement.EnumerateArray())
            foreach (var c in group.GetProperty("cases").EnumerateArray())
                data.Add(c.GetProperty("stem").GetString()!, c.GetProperty("image").GetString()!, c.GetProperty("size").GetInt32(), c.GetProperty("auto").GetBoolean());
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void InputTensorMatchesUpstreamLetterbox(string stem, string image, int size, bool auto)
    {
        Fixtures.Require("yolov7", "manifest.json");
        var expected = NpyArray.Read(Fixtures.Require("yolov7", stem + ".input.npy"));
        using var frame = Cv2.ImRead(Fixtures.Require("yolov7", image));
        var (letterboxed, geometry) = Letterbox.Apply(frame, LetterboxOptions.Square(size, 32, auto));
        using var _ = letterboxed;
        using var scope = NewDisposeScope();
        var input = InputTensor.FromImages([letterboxed], CPU);

        Assert.Equal(expected.Shape, input.shape);
        Assert.Equal(new long[] { 1, 3, geometry.InputHeight, geometry.InputWidth }, input.shape);
        var actual = input.data<float>().ToArray();
        float worst = actual.Zip(expected.Data).Max(p => Math.Abs(p.First - p.Second));
        Assert.True(worst <= 1 / 255f + 1e-6f, $"max difference {worst * 255:g3}/255");
    }

    [Fact]
    public void GeometryMapsBoxesBackToTheSourceFrame()
    {
        // 640x480 into 320 auto: ratio 0.5, 320x240 with no padding needed beyond the stride multiple (240 = 7.5 x 32 -> 256).
        var g = Letterbox.Plan(640, 480, LetterboxOptions.Square(320, 32, auto: true));
        Assert.Equal((320, 256, 0, 8), (g.InputWidth, g.InputHeight, g.Left, g.Top));
        var back = g.ToSource(new BoxF(10, 18, 110, 58));
        Assert.Equal(new BoxF(20, 20, 220, 100), back);
        // Boxes reaching into the padding are clipped to the frame.
        Assert.Equal(new BoxF(0, 0, 640, 480), g.ToSource(new BoxF(-5, 0, 330, 260)));
    }
}
