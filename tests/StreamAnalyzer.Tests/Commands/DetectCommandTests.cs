using System.Text.Json;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Cli.Tests.Commands;

/// <summary>`detect` on images, folders and globs, with unreadable files among them.</summary>
public class DetectCommandTests
{
    [SkippableFact]
    public void AFolderGivesAnnotatedImagesAndOneJsonLinePerImageInTheDocumentedSchema()
    {
        string images = Fixtures.Require("shapes", "images");
        using var dir = new TempDirectory();
        string json = dir.File("det.jsonl");
        // Given as a relative path (the program runs where the tests run): the JSON still names each image by its full path.
        var r = CliProcess.Run("detect", "--weights", Fixtures.ShapesModel, "--source", Path.GetRelativePath(Directory.GetCurrentDirectory(), images),
            "--img-size", "320", "--project", dir.Path, "--name", "exp", "--save-json", json);

        Assert.True(r.ExitCode == 0, r.All);
        var expectedImages = Directory.GetFiles(images, "*.jpg").Select(Path.GetFileName).Order().ToArray();
        Assert.Equal(expectedImages, Directory.GetFiles(Path.Combine(dir.Path, "exp")).Select(Path.GetFileName).Order().ToArray());
        var lines = File.ReadAllLines(json);
        Assert.Equal(expectedImages.Length, lines.Length);

        var reference = JsonDocument.Parse(File.ReadAllText(Fixtures.Require("shapes", "detect-reference.json"))).RootElement;
        foreach (var line in lines)
        {
            var record = JsonDocument.Parse(line).RootElement;
            string source = record.GetProperty("source").GetString()!;
            Assert.True(Path.IsPathFullyQualified(source), $"{source}: a folder's images are named by full path, as one image is and as run names them");
            var upstream = reference.GetProperty("images").EnumerateArray().Single(i => i.GetProperty("image").GetString() == Path.GetFileName(source));
            Assert.Equal(upstream.GetProperty("shape_hw")[0].GetInt32(), record.GetProperty("height").GetInt32());
            Assert.Equal(upstream.GetProperty("shape_hw")[1].GetInt32(), record.GetProperty("width").GetInt32());
            var detections = record.GetProperty("detections").EnumerateArray().ToArray();
            Assert.Equal(upstream.GetProperty("detections").GetArrayLength(), detections.Length);
            foreach (var d in detections)
            {
                Assert.Equal(4, d.GetProperty("box").GetArrayLength());
                Assert.InRange(d.GetProperty("class_id").GetInt32(), 0, 2);
                Assert.Contains(d.GetProperty("class_name").GetString(), new[] { "circle", "square", "triangle" });
                Assert.InRange(d.GetProperty("confidence").GetSingle(), 0.25f, 1f);
            }
            var timings = record.GetProperty("timings_ms");
            Assert.True(timings.GetProperty("forward").GetDouble() > 0);
            Assert.True(timings.TryGetProperty("preprocess", out _) && timings.TryGetProperty("nms", out _));
        }
    }

    [SkippableFact]
    public void UnreadableImagesAreReportedAndFailTheRunAfterTheReadableOnesAreDone()
    {
        using var dir = new TempDirectory();
        string input = Path.Combine(dir.Path, "in");
        Directory.CreateDirectory(input);
        File.Copy(Fixtures.SampleImage("val-00000.jpg"), Path.Combine(input, "a-good.jpg"));
        File.WriteAllText(Path.Combine(input, "b-corrupt.jpg"), "not a jpeg");
        File.Copy(Fixtures.SampleImage("val-00006.jpg"), Path.Combine(input, "c-good.jpg"));

        var r = CliProcess.Run("detect", "--weights", Fixtures.ShapesModel, "--source", Path.Combine(input, "*.jpg"),
            "--img-size", "320", "--project", dir.Path, "--name", "out", "--batch", "2");

        Assert.Equal(1, r.ExitCode);
        Assert.Contains("b-corrupt.jpg: cannot read image", r.StdErr);
        Assert.Equal(new[] { "a-good.jpg", "c-good.jpg" }, Directory.GetFiles(Path.Combine(dir.Path, "out")).Select(f => Path.GetFileName(f)).Order().ToArray());
        Assert.DoesNotContain("   at ", r.All);
    }

    [Fact]
    public void AMissingSourceIsAClearError()
    {
        var r = CliProcess.Run("detect", "--weights", "models/none.pt", "--source", "/nonexistent/pictures");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("/nonexistent/pictures: no such file or folder", r.StdErr);
    }

    [SkippableFact]
    public void Tf32OnTheCpuIsNotedAndChangesNothing()
    {
        using var dir = new TempDirectory();
        string plain = dir.File("plain.jsonl"), tf32 = dir.File("tf32.jsonl");
        var a = CliProcess.Run("detect", "--weights", Fixtures.ShapesModel, "--source", Fixtures.SampleImage("val-00000.jpg"),
            "--img-size", "320", "--nosave", "--save-json", plain);
        var b = CliProcess.Run("detect", "--weights", Fixtures.ShapesModel, "--source", Fixtures.SampleImage("val-00000.jpg"),
            "--img-size", "320", "--nosave", "--save-json", tf32, "--tf32");
        Assert.True(a.ExitCode == 0, a.All);
        Assert.True(b.ExitCode == 0, b.All);
        Assert.Contains("--tf32 applies to CUDA devices; ignored on the CPU", b.StdErr);
        Assert.DoesNotContain("--tf32", a.StdErr);
        static string Detections(string file) => JsonDocument.Parse(File.ReadAllText(file)).RootElement.GetProperty("detections").GetRawText();
        Assert.Equal(Detections(plain), Detections(tf32));
    }
}
