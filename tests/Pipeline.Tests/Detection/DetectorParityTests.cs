using System.Text.Json;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Pipeline.Tests.Detection;

/// <summary>
/// Detections of the trained shapes model against upstream detect.py's on the same images
/// (../shared/fixtures/shapes/detect-reference.json): same count and classes, boxes within 1 px, confidences within 1e-3.
/// </summary>
public class DetectorParityTests
{
    private static readonly Lazy<Detector?> SharedDetector = new(() =>
        Fixtures.Has("shapes", "yolov7-tiny-shapes.pt")
            ? Detector.Load(Path.Combine(Fixtures.SharedRoot, "shapes", "yolov7-tiny-shapes.pt"), new DetectorOptions(320, new NmsOptions(0.25f, 0.45f)))
            : null);

    private static JsonElement Reference() =>
        JsonDocument.Parse(File.ReadAllText(Fixtures.Require("shapes", "detect-reference.json"))).RootElement;

    public static TheoryData<string> Images()
    {
        var data = new TheoryData<string>();
        string path = Path.Combine(Fixtures.SharedRoot, "shapes", "detect-reference.json");
        if (!File.Exists(path)) { data.Add("missing-reference"); return data; }
        foreach (var image in JsonDocument.Parse(File.ReadAllText(path)).RootElement.GetProperty("images").EnumerateArray())
            data.Add(image.GetProperty("image").GetString()!);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Images))]
    public void DetectionsMatchUpstreamDetectPy(string image)
    {
        var reference = Reference();
        Assert.Equal(320, reference.GetProperty("img_size").GetInt32());
        Assert.True(reference.GetProperty("letterbox_auto").GetBoolean());
        var expected = reference.GetProperty("images").EnumerateArray().Single(i => i.GetProperty("image").GetString() == image);
        var detector = SharedDetector.Value!;
        using var frame = Cv2.ImRead(Fixtures.Require("shapes", "images", image));

        var result = detector.Detect(frame);

        var wanted = expected.GetProperty("detections").EnumerateArray().ToArray();
        Assert.Equal(wanted.Length, result.Detections.Count);
        var shape = expected.GetProperty("input_shape").EnumerateArray().Select(v => v.GetInt32()).ToArray();
        Assert.Equal((shape[2], shape[3]), (result.Geometry.InputHeight, result.Geometry.InputWidth));
        for (int i = 0; i < wanted.Length; i++)
        {
            var want = wanted[i];
            var got = result.Detections[i];
            Assert.Equal(want.GetProperty("class").GetInt32(), got.ClassId);
            Assert.Equal(want.GetProperty("conf").GetSingle(), got.Confidence, 1e-3f);
            var box = want.GetProperty("xyxy").EnumerateArray().Select(v => v.GetSingle()).ToArray();
            var ours = got.Box.ToArray();
            for (int k = 0; k < 4; k++)
                Assert.True(Math.Abs(box[k] - ours[k]) <= 1f, $"{image} detection {i}: box {string.Join(",", ours)} vs upstream {string.Join(",", box)}");
        }
    }

    [SkippableFact]
    public void ABatchOfMixedSizedFramesGivesWhatEachFrameGivesAlone()
    {
        var detector = SharedDetector.Value ?? throw new SkipException("shapes model missing");
        string dir = Fixtures.Require("shapes", "images");
        var frames = Directory.GetFiles(dir, "*.jpg").Order().Select(p => Cv2.ImRead(p)).ToArray();
        try
        {
            Assert.True(frames.Select(f => (f.Width, f.Height)).Distinct().Count() > 1, "fixture images should differ in size");
            var batched = detector.Detect(frames);
            for (int i = 0; i < frames.Length; i++)
            {
                var alone = detector.Detect(frames[i]);
                Assert.Equal(alone.Detections.Select(d => d.ClassId), batched[i].Detections.Select(d => d.ClassId));
                foreach (var (a, b) in alone.Detections.Zip(batched[i].Detections))
                {
                    Assert.Equal(a.Confidence, b.Confidence, 1e-4f);
                    Assert.Equal(a.Box.X1, b.Box.X1, 0.01f);
                    Assert.Equal(a.Box.Y2, b.Box.Y2, 0.01f);
                }
            }
        }
        finally
        {
            foreach (var f in frames) f.Dispose();
        }
    }

    [SkippableFact]
    public void ClassFilterAndAgnosticNmsChangeTheResultAsUpstreamDoes()
    {
        var path = Fixtures.Require("shapes", "yolov7-tiny-shapes.pt");
        using var frame = Cv2.ImRead(Fixtures.Require("shapes", "images", "val-00000.jpg"));
        using var onlySquares = Detector.Load(path, new DetectorOptions(320, new NmsOptions(Classes: new HashSet<int> { 1 })));
        Assert.All(onlySquares.Detect(frame).Detections, d => Assert.Equal(1, d.ClassId));

        // val-00000 has a square and a triangle on the same object (overlapping boxes, different classes):
        // class-aware NMS keeps both, agnostic NMS keeps only the more confident.
        using var aware = Detector.Load(path, new DetectorOptions(320));
        using var agnostic = Detector.Load(path, new DetectorOptions(320, new NmsOptions(Agnostic: true)));
        Assert.True(agnostic.Detect(frame).Detections.Count < aware.Detect(frame).Detections.Count);
    }
}

/// <summary>Frames with nothing in them.</summary>
public class EmptyFrameTests
{
    [SkippableFact]
    public void AFrameWithNoCandidateGivesNoDetectionsRatherThanAnError()
    {
        using var detector = Detector.Load(Fixtures.Require("shapes", "yolov7-tiny-shapes.pt"), new DetectorOptions(160, new NmsOptions(0.9f)));
        using var gray = new OpenCvSharp.Mat(96, 128, OpenCvSharp.MatType.CV_8UC3, new OpenCvSharp.Scalar(114, 114, 114));
        Assert.Empty(detector.Detect(gray).Detections);
    }
}
