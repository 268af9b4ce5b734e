using System.Text.Json;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Pipeline.Tests.Detection;

/// <summary>
/// Detections of the trained shapes models against their upstream predict on the same images, with no threshold
/// given so that each family's own defaults apply: yolov7-tiny against yolov7's detect.py
/// (../shared/fixtures/shapes/detect-reference.json, conf 0.25 / IoU 0.45) and YOLOv8n against Ultralytics'
/// <c>YOLO.predict</c> (../shared/fixtures/ultralytics/detect-reference.json, conf 0.25 / IoU 0.7). Same count and
/// classes, boxes within 1 px, confidences within 1e-3.
/// </summary>
public class DetectorParityTests
{
    private static readonly Dictionary<(string, InferenceBackend), Lazy<Detector?>> Detectors = new()
    {
        [("shapes", InferenceBackend.Onnx)] = new(() => Load("shapes", "yolov7-tiny-shapes.pt", InferenceBackend.Onnx)),
        [("shapes", InferenceBackend.Torch)] = new(() => Load("shapes", "yolov7-tiny-shapes.pt", InferenceBackend.Torch)),
        [("ultralytics", InferenceBackend.Onnx)] = new(() => Load("ultralytics", "yolov8n-shapes.pt", InferenceBackend.Onnx)),
        [("ultralytics", InferenceBackend.Torch)] = new(() => Load("ultralytics", "yolov8n-shapes.pt", InferenceBackend.Torch)),
    };

    private static readonly Lazy<Detector?> SharedDetector = Detectors[("shapes", InferenceBackend.Onnx)];

    private static Detector? Load(string folder, string checkpoint, InferenceBackend backend) =>
        Fixtures.Has(folder, checkpoint) ? Detector.Load(Path.Combine(Fixtures.SharedRoot, folder, checkpoint), new DetectorOptions(320, Backend: backend)) : null;

    private static JsonElement Reference(string folder) =>
        JsonDocument.Parse(File.ReadAllText(Fixtures.Require(folder, "detect-reference.json"))).RootElement;

    public static TheoryData<string, string, InferenceBackend> Images()
    {
        var data = new TheoryData<string, string, InferenceBackend>();
        foreach (var (folder, backend) in Detectors.Keys)
        {
            string path = Path.Combine(Fixtures.SharedRoot, folder, "detect-reference.json");
            if (!File.Exists(path)) { data.Add(folder, "missing-reference", backend); continue; }
            foreach (var image in JsonDocument.Parse(File.ReadAllText(path)).RootElement.GetProperty("images").EnumerateArray())
                data.Add(folder, image.GetProperty("image").GetString()!, backend);
        }
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Images))]
    public void DetectionsMatchUpstreamPredict(string folder, string image, InferenceBackend backend)
    {
        var reference = Reference(folder);
        Assert.Equal(320, reference.GetProperty("img_size").GetInt32());
        Assert.True(reference.GetProperty("letterbox_auto").GetBoolean());
        var expected = reference.GetProperty("images").EnumerateArray().Single(i => i.GetProperty("image").GetString() == image);
        var detector = Detectors[(folder, backend)].Value!;
        Assert.Equal(backend, detector.Backend);
        // The reference ran at the family's own defaults, which the detector takes when no threshold is given.
        Assert.Equal(reference.GetProperty("conf_thres").GetSingle(), detector.Options.Nms!.ConfThreshold);
        Assert.Equal(reference.GetProperty("iou_thres").GetSingle(), detector.Options.Nms!.IouThreshold);
        using var frame = Cv2.ImRead(Fixtures.Require("shapes", "images", image));

        var result = detector.Detect(frame);

        var wanted = expected.GetProperty("detections").EnumerateArray().ToArray();
        Assert.Equal(wanted.Length, result.Detections.Count);
        if (expected.TryGetProperty("input_shape", out var inputShape))
        {
            var shape = inputShape.EnumerateArray().Select(v => v.GetInt32()).ToArray();
            Assert.Equal((shape[2], shape[3]), (result.Geometry.InputHeight, result.Geometry.InputWidth));
        }
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
        var path = Fixtures.ShapesModel;
        using var frame = Cv2.ImRead(Fixtures.SampleImage("val-00000.jpg"));
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
        using var detector = Detector.Load(Fixtures.ShapesModel, new DetectorOptions(160, new NmsOptions(0.9f)));
        using var gray = new OpenCvSharp.Mat(96, 128, OpenCvSharp.MatType.CV_8UC3, new OpenCvSharp.Scalar(114, 114, 114));
        Assert.Empty(detector.Detect(gray).Detections);
    }
}
