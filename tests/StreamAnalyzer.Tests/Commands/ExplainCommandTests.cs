using System.Text.Json;
using StreamAnalyzer.Pipeline.Numpy;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Cli.Tests.Commands;

/// <summary>`explain` writes one PNG per detection and layer, a combined PNG, and with --save-npy the maps and a JSON index.</summary>
public class ExplainCommandTests
{
    [SkippableFact]
    public void ExplainingSeveralLayersWritesEveryMapAndNoNaN()
    {
        using var dir = new TempDirectory();
        var r = CliProcess.Run("explain", "--weights", Fixtures.ShapesModel,
            "--source", Fixtures.SampleImage("val-00000.jpg"), "--img-size", "320", "--method", "gradcampp",
            "--layers", "74,75_act,76", "--top-k", "2", "--save-npy", "--project", dir.Path, "--name", "e");
        Assert.True(r.ExitCode == 0, r.All);
        string outDir = Path.Combine(dir.Path, "e");
        Assert.True(File.Exists(Path.Combine(outDir, "val-00000.combined.png")));
        var index = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "val-00000.json"))).RootElement;
        Assert.Equal(new[] { 1, 3, 320, 320 }, index.GetProperty("input_shape").EnumerateArray().Select(v => v.GetInt32()).ToArray());
        var detections = index.GetProperty("detections").EnumerateArray().ToArray();
        Assert.Equal(2, detections.Length);
        foreach (var d in detections)
        {
            var maps = d.GetProperty("maps").EnumerateArray().Select(m => m.GetString()!).ToArray();
            Assert.Equal(3, maps.Length);
            foreach (var m in maps)
            {
                var map = NpyArray.Read(Path.Combine(outDir, m));
                Assert.Equal(new long[] { 320, 320 }, map.Shape);
                Assert.All(map.Data, v => Assert.InRange(v, 0f, 1f)); // NaN fails InRange
            }
            int i = d.GetProperty("index").GetInt32();
            foreach (var layer in new[] { 74, 75, 76 })
                Assert.True(File.Exists(Path.Combine(outDir, $"val-00000.det{i}.{layer}.png")));
        }
    }

    /// <summary>
    /// A map or index that cannot be written (here a folder is in the way; a full disk fails the same call) stops the
    /// command with the file's name and a non-zero exit, and leaves no partial file.
    /// </summary>
    [SkippableFact]
    public void AnOutputThatCannotBeWrittenStopsTheCommandWithItsName()
    {
        using var dir = new TempDirectory();
        string outDir = Path.Combine(dir.Path, "e");
        Directory.CreateDirectory(Path.Combine(outDir, "val-00000.combined.png"));
        var r = CliProcess.Run("explain", "--weights", Fixtures.ShapesModel, "--source", Fixtures.SampleImage("val-00000.jpg"),
            "--img-size", "160", "--project", dir.Path, "--name", "e", "--exist-ok");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"error: {Path.Combine(outDir, "val-00000.combined.png")}: could not be written", r.StdErr);
        Assert.DoesNotContain("   at ", r.All);

        Directory.Delete(Path.Combine(outDir, "val-00000.combined.png"));
        Directory.CreateDirectory(Path.Combine(outDir, "val-00000.json"));
        r = CliProcess.Run("explain", "--weights", Fixtures.ShapesModel, "--source", Fixtures.SampleImage("val-00000.jpg"),
            "--img-size", "160", "--project", dir.Path, "--name", "e", "--exist-ok", "--save-npy");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"error: {Path.Combine(outDir, "val-00000.json")}: could not be written", r.StdErr);
        Assert.DoesNotContain("   at ", r.All);
    }

    [SkippableFact]
    public void AnUnknownMethodOrLayerIsAClearError()
    {
        string weights = Fixtures.ShapesModel;
        string image = Fixtures.SampleImage("val-00000.jpg");
        var r = CliProcess.Run("explain", "--weights", weights, "--source", image, "--method", "scorecam2");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--method 'scorecam2': not a CAM method; choose one of gradcam", r.StdErr);
        r = CliProcess.Run("explain", "--weights", weights, "--source", image, "--layers", "500");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--layers '500': not a layer index", r.StdErr);
        r = CliProcess.Run("explain", "--weights", weights, "--source", image, "--layers", "74,,75");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--layers '74,,75': an empty entry between commas", r.StdErr);
        using var dir = new TempDirectory();
        r = CliProcess.Run("explain", "--weights", weights, "--source", image, "--layers", "74,75,", "--project", dir.Path);
        Assert.True(r.ExitCode == 0, r.All); // a trailing comma is taken (camera specs may hold one)
    }
}

/// <summary>`bench` runs and reports both timings and the explanation's share.</summary>
public class BenchCommandTests
{
    [SkippableFact]
    public void BenchOnAnImageReportsBackendsStagesAndTheExplanationRatio()
    {
        using var dir = new TempDirectory();
        string json = dir.File("bench.json");
        var r = CliProcess.Run("bench", "--weights", Fixtures.ShapesModel,
            "--source", Fixtures.SampleImage("val-00000.jpg"), "--img-size", "320", "--runs", "2", "--json", json);
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Matches(@"forward pass only, 320x320", r.StdOut);
        Assert.Matches(@"\n  torch\s+\d+\.\d\s+\d+\.\d", r.StdOut);
        Assert.Matches(@"\n  onnx\s+\d+\.\d\s+\d+\.\d", r.StdOut);
        Assert.Matches(@"detect \(onnx, 320x\d+\)", r.StdOut);
        Assert.Matches(@"detect \+ explain top 3 \(gradcam at auto\)", r.StdOut);
        Assert.Matches(@"explanation cost\s+-?\d+\.\d ms = -?\d+ % of detection \(3 detection\(s\)\)", r.StdOut);
        Assert.Matches(@"peak memory \(RSS\)\s+\d+ MB", r.StdOut);

        using var report = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
        var root = report.RootElement;
        Assert.Equal("yolov7", root.GetProperty("family").GetString());
        Assert.Equal(2, root.GetProperty("forward").GetProperty("onnx").GetProperty("samples").GetInt32());
        Assert.True(root.GetProperty("detect_explain").GetProperty("explain").GetProperty("median_ms").GetDouble() > 0);
        Assert.Equal(3, root.GetProperty("explanation").GetProperty("detections").GetInt32());
    }

    [SkippableFact]
    public void BenchTimesABatchOfCopiesOfTheImage()
    {
        using var dir = new TempDirectory();
        string json = dir.File("bench.json");
        var r = CliProcess.Run("bench", "--weights", Fixtures.ShapesModel,
            "--source", Fixtures.SampleImage("val-00000.jpg"), "--img-size", "320", "--runs", "2", "--batch", "3", "--json", json);
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Matches(@"forward pass only, 320x320, batch 3", r.StdOut);
        Assert.Matches(@"detect \(onnx, 320x\d+; batch 3: stages per image, total per batch\)", r.StdOut);
        // Three detections of each of the three copies.
        Assert.Matches(@"explanation cost\s+-?\d+\.\d ms = -?\d+ % of detection \(9 detection\(s\) in a batch of 3\)", r.StdOut);
        Assert.Matches(@"images per second\s+\d+ detecting, \d+ detecting and explaining", r.StdOut);

        using var report = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
        var root = report.RootElement;
        Assert.Equal(3, root.GetProperty("batch").GetInt32());
        Assert.Equal("float32", root.GetProperty("dtype").GetString());
        Assert.Equal(9, root.GetProperty("explanation").GetProperty("detections").GetInt32());
    }

    [SkippableFact]
    public void BenchRefusesABatchOnAVideoAndHalfPrecisionOnTheCpu()
    {
        var video = CliProcess.Run("bench", "--weights", Fixtures.ShapesModel, "--source", Fixtures.DemoClip, "--batch", "2");
        Assert.NotEqual(0, video.ExitCode);
        Assert.Contains("--batch applies to an image", video.StdErr);
        var half = CliProcess.Run("bench", "--weights", Fixtures.ShapesModel, "--source", Fixtures.SampleImage("val-00000.jpg"), "--half");
        Assert.NotEqual(0, half.ExitCode);
        Assert.Contains("--half needs a CUDA device", half.StdErr);
        Assert.DoesNotContain("   at ", half.All);
    }

    /// <summary>An ONNX file to compare with that is missing, a folder, or no model is one clear error, not a stack trace.</summary>
    [SkippableFact]
    public void BenchNamesAnOnnxFileItCannotCompareWith()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("text.onnx"), "not a model");
        string image = Fixtures.SampleImage("val-00000.jpg");
        foreach (var (file, error) in new[]
        {
            (dir.File("missing.onnx"), $"error: --compare-onnx {dir.File("missing.onnx")}: no such file"),
            (dir.Path, $"error: --compare-onnx {dir.Path}: is a folder; give an .onnx file"),
            (dir.File("text.onnx"), $"error: --compare-onnx {dir.File("text.onnx")}: ONNX Runtime cannot load it as a model ([ErrorCode:InvalidProtobuf]"),
        })
        {
            var r = CliProcess.Run("bench", "--weights", Fixtures.ShapesModel, "--source", image, "--img-size", "160", "--runs", "1", "--compare-onnx", file);
            Assert.Equal(1, r.ExitCode);
            Assert.StartsWith(error, r.StdErr.Trim());
            Assert.DoesNotContain("   at ", r.All);
        }
    }

    [SkippableFact]
    public void BenchOnAVideoComparesTheModelWithTheWholePipeline()
    {
        var r = CliProcess.Run("bench", "--weights", Fixtures.ShapesModel, "--source", Fixtures.DemoClip,
            "--img-size", "320", "--frames", "12", "--cam-every", "2");
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Matches(@"model only\s+\d+\.\d fps", r.StdOut);
        // Three rounds unless --rounds says otherwise: the median one is reported, all are listed.
        Assert.Matches(@"end to end\s+\d+\.\d fps over 12 frames after 10 warm-up = \d+ % of model-only \(\d+\.\d fps around this run; the median of 3 rounds\) \(decode, detect, gradcam at auto every 2, render, H.264 encode, x264 \w+; \d+ worker\(s\)\)", r.StdOut);
        Assert.Matches(@"rounds\s+\d+\.\d fps = \d+ %, \d+\.\d fps = \d+ %, \d+\.\d fps = \d+ %\n", r.StdOut);
        foreach (var stage in new[] { "forward", "explain", "render", "write", "latency" })
            Assert.Matches($@"\n  {stage}\s+\d+\.\d\s+\d+\.\d", r.StdOut);
    }

    /// <summary>With <c>--rounds</c>, the pipeline runs that many times and each run's share is listed, in the JSON too.</summary>
    [SkippableFact]
    public void BenchRoundsRunThePipelineAgainAndListEachShare()
    {
        using var dir = new TempDirectory();
        string json = dir.File("bench.json");
        var r = CliProcess.Run("bench", "--weights", Fixtures.ShapesModel, "--source", Fixtures.DemoClip,
            "--img-size", "160", "--frames", "12", "--rounds", "2", "--json", json);
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Matches(@"end to end\s+\d+\.\d fps over 12 frames after 10 warm-up = \d+ % of model-only \(\d+\.\d fps around this run; the median of 2 rounds\)", r.StdOut);
        Assert.Matches(@"rounds\s+\d+\.\d fps = \d+ %, \d+\.\d fps = \d+ %\n", r.StdOut);
        using var report = System.Text.Json.JsonDocument.Parse(File.ReadAllText(json));
        var rounds = report.RootElement.GetProperty("rounds").EnumerateArray().ToArray();
        Assert.Equal(2, rounds.Length);
        foreach (var round in rounds)
            Assert.Equal(round.GetProperty("end_to_end_fps").GetDouble() / round.GetProperty("model_only_fps").GetDouble(), round.GetProperty("ratio").GetDouble(), 0.01);
        Assert.Contains(rounds, round => round.GetProperty("ratio").GetDouble() == report.RootElement.GetProperty("end_to_end_ratio").GetDouble());
        Assert.Equal(24, report.RootElement.GetProperty("frames").GetInt32());

        var image = CliProcess.Run("bench", "--weights", Fixtures.ShapesModel, "--source", Fixtures.SampleImage("val-00000.jpg"), "--rounds", "2");
        Assert.Equal(1, image.ExitCode);
        Assert.Contains("--rounds applies to a video", image.StdErr);
    }

    [SkippableFact]
    public void BenchRefusesAnUnwritableJsonPathBeforeLoading()
    {
        var r = CliProcess.Run("bench", "--weights", Fixtures.ShapesModel, "--source", Fixtures.SampleImage("val-00000.jpg"),
            "--json", "/proc/forbidden/bench.json");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--json", r.StdErr);
        Assert.DoesNotContain("model yolov7", r.StdOut);
    }
}
