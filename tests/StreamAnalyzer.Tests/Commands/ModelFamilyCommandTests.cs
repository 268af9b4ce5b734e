using System.Text.Json;
using StreamAnalyzer.Pipeline.Numpy;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Cli.Tests.Commands;

/// <summary>Every command with YOLOv5 and Ultralytics checkpoints, as a user runs them: no flag says which family.</summary>
public class ModelFamilyCommandTests
{
    private static string Yolov8Shapes => Fixtures.Yolov8ShapesModel;

    [SkippableTheory]
    [InlineData("yolov5", "yolov5n6-random.pt", "YOLOv5", "conf 0.25, iou 0.45, max-det 1000", "(B, N, 85)")]
    [InlineData("ultralytics", "yolo11n-random.pt", "Ultralytics (YOLOv8, YOLO11, YOLOv5u)", "conf 0.25, iou 0.7, max-det 300", "(B, 84, N)")]
    public void InfoNamesTheFamilyItsDefaultsAndItsOutput(string folder, string file, string family, string defaults, string output)
    {
        var r = CliProcess.Run("info", "--weights", Fixtures.Require(folder, file));
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains($"family       {family}", r.StdOut);
        Assert.Contains(defaults, r.StdOut);
        Assert.Contains(output, r.StdOut);
    }

    [SkippableTheory]
    [InlineData("ultralytics", "yolov8n-random.pt", "yolov8n-random__zidane_416_auto")]
    [InlineData("yolov5", "yolov5n6-random.pt", "yolov5n6-random__horses_448_auto")]
    public void ForwardWritesTheFamilysOwnOutputAsItIs(string folder, string file, string stem)
    {
        using var dir = new TempDirectory();
        string output = dir.File("pred.npy");
        var r = CliProcess.Run("forward", "--weights", Fixtures.Require(folder, file), "--input", Fixtures.Require(folder, stem + ".input.npy"), "--output", output);
        Assert.True(r.ExitCode == 0, r.All);
        var ours = NpyArray.Read(output);
        var upstream = NpyArray.Read(Fixtures.Require(folder, stem + ".output.npy"));
        Assert.Equal(upstream.Shape, ours.Shape); // (1, 84, N) for Ultralytics, (1, N, 85) for YOLOv5
        Assert.True(ours.Data.Zip(upstream.Data).Max(p => Math.Abs(p.First - p.Second)) < 5e-3);
    }

    [SkippableFact]
    public void DetectWithTheYolov8ModelMatchesUltralyticsPredictAtItsDefaults()
    {
        using var dir = new TempDirectory();
        string json = dir.File("det.jsonl");
        var r = CliProcess.Run("detect", "--weights", Yolov8Shapes, "--source", Fixtures.Require("shapes", "images"), "--img-size", "320",
            "--project", dir.Path, "--name", "exp", "--save-json", json);
        Assert.True(r.ExitCode == 0, r.All);
        var reference = JsonDocument.Parse(File.ReadAllText(Fixtures.Require("ultralytics", "detect-reference.json"))).RootElement;
        var lines = File.ReadAllLines(json).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(reference.GetProperty("images").GetArrayLength(), lines.Length);
        foreach (var record in lines)
        {
            string image = Path.GetFileName(record.GetProperty("source").GetString()!);
            var upstream = reference.GetProperty("images").EnumerateArray().Single(i => i.GetProperty("image").GetString() == image)
                .GetProperty("detections").EnumerateArray().ToArray();
            var ours = record.GetProperty("detections").EnumerateArray().ToArray();
            Assert.Equal(upstream.Length, ours.Length);
            foreach (var (u, o) in upstream.Zip(ours))
            {
                Assert.Equal(u.GetProperty("class").GetInt32(), o.GetProperty("class_id").GetInt32());
                Assert.Equal(u.GetProperty("conf").GetDouble(), o.GetProperty("confidence").GetDouble(), 1e-3);
                var ub = u.GetProperty("xyxy").EnumerateArray().Select(v => v.GetDouble());
                var ob = o.GetProperty("box").EnumerateArray().Select(v => v.GetDouble());
                Assert.All(ub.Zip(ob), p => Assert.True(Math.Abs(p.First - p.Second) <= 1, $"{image}: {p.First} vs {p.Second}"));
            }
        }
    }

    [SkippableTheory]
    [InlineData("odam", "neck")]
    [InlineData("gradcampp", "auto")]
    [InlineData("eigencam", "22.cv2.0")]
    public void ExplainWithTheYolov8ModelWritesFiniteMaps(string method, string layers)
    {
        using var dir = new TempDirectory();
        var r = CliProcess.Run("explain", "--weights", Yolov8Shapes, "--source", Fixtures.SampleImage("val-00002.jpg"),
            "--img-size", "320", "--method", method, "--layers", layers, "--top-k", "3", "--save-npy", "--project", dir.Path, "--name", "e");
        Assert.True(r.ExitCode == 0, r.All);
        var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.Path, "e", "val-00002.json"))).RootElement;
        var detections = index.GetProperty("detections").EnumerateArray().ToArray();
        Assert.Equal(3, detections.Length);
        foreach (var m in detections.SelectMany(d => d.GetProperty("maps").EnumerateArray()))
            Assert.All(NpyArray.Read(Path.Combine(dir.Path, "e", m.GetString()!)).Data, v => Assert.InRange(v, 0f, 1f));
    }

    [SkippableFact]
    public void TheYolov8DemoConfigRunsTheClipWithUpstreamsRecall()
    {
        string groundTruth = Fixtures.Require("shapes", "shapes-demo.gt.jsonl");
        string upstreamRecall = Fixtures.Require("ultralytics", "upstream-recall.json");
        using var dir = new TempDirectory();
        string mp4 = dir.File("out.mp4"), json = dir.File("out.jsonl");
        var r = CliProcess.Run("run", "--config", Path.Combine(Fixtures.RepositoryRoot, "configs", "demo-yolov8.yaml"),
            "--weights", Yolov8Shapes, "--source", Path.Combine(Fixtures.RepositoryRoot, "samples", "shapes-demo.mp4"), "--save", mp4, "--save-json", json);
        Assert.True(r.ExitCode == 0, r.All);
        var records = File.ReadAllLines(json).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(300, records.Length);
        Assert.Equal(60, records.Count(e => e.GetProperty("explained").GetBoolean()));
        var explained = records.Where(e => e.GetProperty("explained").GetBoolean()).SelectMany(e => e.GetProperty("detections").EnumerateArray().Take(3)).ToArray();
        // ODAM at the neck: the map's mass sits mostly in the detection's own box.
        Assert.True(explained.Average(d => d.GetProperty("map").GetProperty("mass_in_box").GetDouble()) >= 0.5);

        // Every detection (conf >= 0.25, as upstream's predict) against the clip's ground truth, and upstream's own recall.
        var truth = File.ReadAllLines(groundTruth).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        double upstream = JsonDocument.Parse(File.ReadAllText(upstreamRecall)).RootElement
            .GetProperty("recall_at_iou_0.5").GetDouble();
        double recall = RunCommandTests.Recall(records, truth, 0, minConfidence: 0.25);
        Assert.True(recall >= upstream - 0.02, $"recall {recall:F3} against upstream's {upstream:F3}");
    }
}
