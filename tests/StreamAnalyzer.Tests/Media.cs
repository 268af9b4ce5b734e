using System.Diagnostics;
using System.Globalization;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Cli.Tests;

/// <summary>Test media made and inspected with the system ffmpeg/ffprobe (the same tools the program uses).</summary>
public static class Media
{
    /// <summary>What ffprobe reads back from a video: every frame decoded.</summary>
    public sealed record Probed(string Codec, long Frames, int Width, int Height, double Duration);

    /// <summary>Skips (or, under CI, fails) when a program the test needs is not installed.</summary>
    public static void Need(params string[] programs)
    {
        foreach (var program in programs)
        {
            if (Which(program) is not null) continue;
            if (Fixtures.InCi) throw new InvalidOperationException($"CI=true but {program} is not installed (.ci/run installs it)");
            throw new SkipException($"{program} is not installed");
        }
    }

    /// <summary>Full path of a program on PATH, or null.</summary>
    public static string? Which(string program) => (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':')
        .Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists);

    /// <summary>Runs ffmpeg quietly; fails the test if it fails.</summary>
    public static void Ffmpeg(params string[] args)
    {
        Need("ffmpeg");
        Fixtures.RunFfmpeg(args);
    }

    /// <summary>Decodes every frame of <paramref name="video"/> with ffprobe.</summary>
    public static Probed Probe(string video)
    {
        Need("ffprobe");
        var psi = new ProcessStartInfo("ffprobe", ["-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
            "stream=codec_name,nb_read_frames,width,height:format=duration", "-of", "default=nw=1", video])
        { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        var fields = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('=', 2)).Where(kv => kv.Length == 2)
            .GroupBy(kv => kv[0]).ToDictionary(g => g.Key, g => g.First()[1]);
        Assert.True(fields.ContainsKey("nb_read_frames"), $"ffprobe cannot read {video}: {err}");
        return new Probed(fields["codec_name"], long.Parse(fields["nb_read_frames"], CultureInfo.InvariantCulture),
            int.Parse(fields["width"], CultureInfo.InvariantCulture), int.Parse(fields["height"], CultureInfo.InvariantCulture),
            double.TryParse(fields.GetValueOrDefault("duration"), CultureInfo.InvariantCulture, out var d) ? d : 0);
    }
}
