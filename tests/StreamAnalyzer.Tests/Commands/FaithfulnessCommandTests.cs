using System.Text.Json;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Cli.Tests.Commands;

/// <summary>
/// `explain --evaluate` writes its table as CSV, JSON (with each map's curves) and a chart; perturbation maps repeat
/// with their seed; `run --cam-faithfulness` puts the scores in the JSON lines.
/// </summary>
public class FaithfulnessCommandTests
{
    [SkippableFact]
    public void EvaluateWritesTheTableWithEveryMapsCurvesAndAChart()
    {
        using var dir = new TempDirectory();
        string images = Directory.CreateDirectory(dir.File("images")).FullName;
        foreach (var name in new[] { "val-00000.jpg", "val-00006.jpg" }) File.Copy(Fixtures.SampleImage(name), Path.Combine(images, name));
        var r = CliProcess.Run("explain", "--weights", Fixtures.ShapesModel, "--source", images, "--img-size", "320", "--evaluate",
            "--method", "odam,drise", "--layers", "auto", "--layers", "neck", "--samples", "48", "--top-k", "1", "--steps", "4",
            "--project", dir.Path, "--name", "ev");
        Assert.True(r.ExitCode == 0, r.All);
        string outDir = Path.Combine(dir.Path, "ev");

        var csv = File.ReadAllLines(Path.Combine(outDir, "evaluation.csv"));
        Assert.Equal("method,layers,maps,deletion_auc,insertion_auc,mass_in_box,ms_per_map", csv[0]);
        var rows = csv.Skip(1).Select(l => l.Split(',')).ToDictionary(c => (c[0], c[1]));
        Assert.Equal(new[] { ("drise", "input"), ("odam", "auto"), ("odam", "neck"), ("random", "-") }, rows.Keys.Order().ToArray());
        foreach (var row in rows.Values)
        {
            Assert.Equal("2", row[2]); // one detection on each of two images
            foreach (int column in new[] { 3, 4, 5 }) Assert.InRange(double.Parse(row[column], System.Globalization.CultureInfo.InvariantCulture), 0, 1);
        }
        Assert.Contains("drise", r.StdOut);
        Assert.Contains("deletion AUC", r.StdOut);

        // Each map's AUCs are the areas under its own curves (5 points for 4 steps), and the rows their means.
        var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "evaluation.json"))).RootElement;
        var maps = json.GetProperty("maps").EnumerateArray().ToArray();
        Assert.Equal(8, maps.Length);
        foreach (var m in maps)
        {
            foreach (var (curve, auc) in new[] { ("deletion", "deletion_auc"), ("insertion", "insertion_auc") })
            {
                var y = m.GetProperty(curve).EnumerateArray().Select(v => v.GetDouble()).ToArray();
                Assert.Equal(5, y.Length);
                double area = (y[0] / 2 + y[1] + y[2] + y[3] + y[4] / 2) / 4;
                Assert.Equal(area, m.GetProperty(auc).GetDouble(), 5);
            }
        }
        foreach (var row in json.GetProperty("rows").EnumerateArray())
        {
            var mine = maps.Where(m => m.GetProperty("method").GetString() == row.GetProperty("method").GetString()
                && m.GetProperty("layers").GetString() == row.GetProperty("layers").GetString()).ToArray();
            Assert.Equal(mine.Average(m => m.GetProperty("deletion_auc").GetDouble()), row.GetProperty("deletion_auc").GetDouble(), 6);
        }

        using var chart = Cv2.ImRead(Path.Combine(outDir, "evaluation.png"));
        Assert.False(chart.Empty());
        Assert.True(chart.Width >= 640 && chart.Height >= 400, $"chart is {chart.Width}x{chart.Height}");
    }

    [SkippableFact]
    public void PerturbationMapsRepeatWithTheirSeed()
    {
        using var dir = new TempDirectory();
        byte[] Map(string method, int seed, string name)
        {
            var r = CliProcess.Run("explain", "--weights", Fixtures.ShapesModel, "--source", Fixtures.SampleImage("val-00000.jpg"), "--img-size", "320",
                "--method", method, "--seed", seed.ToString(), "--samples", "40", "--top-k", "1", "--save-npy", "--project", dir.Path, "--name", name);
            Assert.True(r.ExitCode == 0, r.All);
            Assert.Contains($"with {method} at the input;", r.StdOut); // perturbation methods explain the input, not layers
            return File.ReadAllBytes(Path.Combine(dir.Path, name, $"val-00000.{method}.input.det0.npy"));
        }
        foreach (var method in new[] { "drise", "lime" })
        {
            var first = Map(method, 5, $"{method}-a");
            Assert.Equal(first, Map(method, 5, $"{method}-b"));
            Assert.NotEqual(first, Map(method, 6, $"{method}-c"));
        }
    }

    [SkippableFact]
    public void SeveralMethodsWithoutEvaluateAreRefused()
    {
        var r = CliProcess.Run("explain", "--weights", Fixtures.ShapesModel, "--source", Fixtures.SampleImage("val-00000.jpg"), "--method", "odam,drise");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("--evaluate", r.StdErr);
        Assert.DoesNotContain("   at ", r.All);
    }

    [SkippableFact]
    public void RunPutsEachExplainedMapsFaithfulnessInTheJsonLines()
    {
        // A clip of 12 frames rather than --duration: frames analysed after a stop are not explained, and the first
        // frame (with the scoring's one-time work) can take longer than a short duration on a loaded machine.
        using var dir = new TempDirectory();
        string json = dir.File("run.jsonl"), clip = dir.File("short.mp4");
        Media.Ffmpeg("-i", Fixtures.DemoClip, "-frames:v", "12", "-c", "copy", clip);
        var r = CliProcess.Run("run", "--weights", Fixtures.ShapesModel, "--source", clip, "--img-size", "320", "--cam-every", "10",
            "--cam-method", "odam", "--layers", "neck", "--top-k", "2", "--cam-faithfulness", "--save-json", json);
        Assert.True(r.ExitCode == 0, r.All);
        var explained = File.ReadLines(json).Select(l => JsonDocument.Parse(l).RootElement).Where(e => e.GetProperty("explained").GetBoolean()).ToArray();
        Assert.NotEmpty(explained);
        foreach (var frame in explained)
        {
            var scored = frame.GetProperty("detections").EnumerateArray().Where(d => d.TryGetProperty("map", out _)).ToArray();
            Assert.NotEmpty(scored);
            foreach (var d in scored)
            {
                var f = d.GetProperty("map").GetProperty("faithfulness");
                Assert.Equal(5, f.GetProperty("steps").GetInt32());
                Assert.InRange(f.GetProperty("deletion_auc").GetDouble(), 0, 1);
                Assert.InRange(f.GetProperty("insertion_auc").GetDouble(), 0, 1);
            }
        }
    }
}
