using System.Text.Json;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Cli.Tests.Commands;

/// <summary>
/// Videos and images damaged at random (bytes flipped, cut short, headers zeroed, garbage), generated here with a
/// fixed seed, fed to `run` and `detect` among good files: no crash or hang, every readable frame processed, every
/// damaged file that yields nothing named.
/// </summary>
public class MediaFuzzTests
{
    private static byte[] Damage(byte[] original, int kind, Random rng)
    {
        var bytes = (byte[])original.Clone();
        switch (kind)
        {
            case 0: // bytes flipped throughout
                for (int i = 0; i < 200; i++) bytes[rng.Next(bytes.Length)] ^= (byte)rng.Next(1, 256);
                return bytes;
            case 1: // cut short
                return bytes[..rng.Next(16, bytes.Length * 3 / 4)];
            case 2: // header zeroed
                Array.Clear(bytes, 0, Math.Min(bytes.Length, rng.Next(8, 512)));
                return bytes;
            case 3: // a burst of garbage in the middle
            {
                int at = rng.Next(bytes.Length / 4, bytes.Length / 2);
                for (int i = at; i < Math.Min(bytes.Length, at + 20000); i++) bytes[i] = (byte)rng.Next(256);
                return bytes;
            }
            default: // not media at all
                return [.. Enumerable.Range(0, rng.Next(0, 4096)).Select(_ => (byte)rng.Next(256))];
        }
    }

    [Fact]
    public void DamagedVideosAndImagesNeitherCrashNorHangAndReadableFramesAreProcessed()
    {
        using var dir = new TempDirectory();
        string input = Directory.CreateDirectory(dir.File("in")).FullName;
        string shortClip = dir.File("short.mp4");
        Media.Ffmpeg("-i", Fixtures.DemoClip, "-frames:v", "40", "-vf", "scale=320:180", "-c:v", "libx264", "-movflags", "+faststart", shortClip);
        var video = File.ReadAllBytes(shortClip);
        var image = File.ReadAllBytes(Fixtures.SampleImage("val-00002.jpg"));
        var rng = new Random(424242);
        for (int i = 0; i < 10; i++)
        {
            File.WriteAllBytes(Path.Combine(input, $"video{i:00}.mp4"), Damage(video, i % 5, rng));
            File.WriteAllBytes(Path.Combine(input, $"image{i:00}.jpg"), Damage(image, i % 5, rng));
        }
        File.Copy(shortClip, Path.Combine(input, "zz-good.mp4"));
        File.Copy(Fixtures.SampleImage("val-00000.jpg"), Path.Combine(input, "zz-good.jpg"));

        string json = dir.File("out.jsonl");
        var r = CliProcess.Run(TimeSpan.FromMinutes(5), "run", "--weights", Fixtures.ShapesModel, "--source", input, "--img-size", "160",
            "--save", dir.File("out"), "--save-json", json);

        Assert.True(r.ExitCode == 1, $"some inputs are damaged: the run must end normally with exit code 1, got {r.ExitCode}\n{r.All}");
        Assert.DoesNotContain("   at ", r.All); // no stack trace
        var frames = File.ReadAllLines(json).Select(l => JsonDocument.Parse(l).RootElement)
            .GroupBy(e => Path.GetFileName(e.GetProperty("source").GetString()!)).ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(40, frames["zz-good.mp4"]);
        Assert.Equal(1, frames["zz-good.jpg"]);
        // Every damaged file either gave frames or is named in an error line.
        var errors = r.StdErr.Split('\n').Where(l => l.StartsWith("error: ", StringComparison.Ordinal)).ToArray();
        foreach (var file in Directory.GetFiles(input).Select(Path.GetFileName).Where(f => !f!.StartsWith("zz-")))
            Assert.True(frames.ContainsKey(file!) || errors.Any(e => e.Contains(file!)), $"{file}: neither processed nor reported\n{r.StdErr}");

        r = CliProcess.Run(TimeSpan.FromMinutes(5), "detect", "--weights", Fixtures.ShapesModel, "--source", Path.Combine(input, "*.jpg"), "--img-size", "160",
            "--batch", "4", "--nosave");
        Assert.Equal(1, r.ExitCode);
        Assert.DoesNotContain("   at ", r.All);
        Assert.Contains("zz-good.jpg", r.StdOut);
    }
}
