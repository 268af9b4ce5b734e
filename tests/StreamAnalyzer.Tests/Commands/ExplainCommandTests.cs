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
    }
}

/// <summary>`bench` runs and reports both timings and the explanation's share.</summary>
public class BenchCommandTests
{
    [SkippableFact]
    public void BenchReportsDetectionAndExplanationTimes()
    {
        var r = CliProcess.Run("bench", "--weights", Fixtures.ShapesModel,
            "--source", Fixtures.SampleImage("val-00000.jpg"), "--img-size", "320", "--runs", "1");
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Matches(@"detect\s+\d+\.\d", r.StdOut);
        Assert.Matches(@"detect \+ explain top 3\s+\d+\.\d", r.StdOut);
        Assert.Contains("of detection (gradcam at auto, 3 detection(s))", r.StdOut);
    }
}
