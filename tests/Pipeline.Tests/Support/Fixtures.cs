namespace StreamAnalyzer.Pipeline.Tests.Support;

/// <summary>
/// Locates ../shared/fixtures beside the repository root. Where it is missing a test is skipped with the
/// reason, except under CI (CI=true), where a missing fixture fails the test.
/// </summary>
public static class Fixtures
{
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string SharedRoot => Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "fixtures"));

    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The full path of a shared fixture; skips (or fails under CI) when it is absent.</summary>
    public static string Require(params string[] relative)
    {
        var path = Path.Combine([SharedRoot, .. relative]);
        if (File.Exists(path) || Directory.Exists(path)) return path;
        string reason = $"fixture {path} is missing";
        if (InCi) throw new FileNotFoundException($"CI=true and {reason}", path);
        throw new SkipException(reason);
    }

    /// <summary>Skips (or fails under CI) when the system ffmpeg, and with <paramref name="ffprobe"/> ffprobe, is not installed.</summary>
    public static void NeedFfmpeg(bool ffprobe = false)
    {
        if (StreamAnalyzer.Pipeline.Runtime.Ffmpeg.FfmpegPath is not null && (!ffprobe || StreamAnalyzer.Pipeline.Runtime.Ffmpeg.FfprobePath is not null)) return;
        if (InCi) throw new InvalidOperationException("CI=true and ffmpeg is not installed");
        throw new SkipException("ffmpeg is not installed");
    }

    /// <summary>Runs the system ffmpeg quietly (<c>-v error -y</c>); fails the test with ffmpeg's message if it fails.</summary>
    public static void RunFfmpeg(params string[] arguments)
    {
        var psi = new System.Diagnostics.ProcessStartInfo(StreamAnalyzer.Pipeline.Runtime.Ffmpeg.FfmpegPath ?? "ffmpeg")
        {
            RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true,
        };
        foreach (var a in new[] { "-v", "error", "-y" }.Concat(arguments)) psi.ArgumentList.Add(a);
        using var p = System.Diagnostics.Process.Start(psi)!;
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        stdout.Wait();
        Assert.True(p.ExitCode == 0, $"ffmpeg {string.Join(' ', arguments)}: {error}");
    }

    /// <summary>A file the repository ships (models/, samples/): always there, so tests that need only these never skip.</summary>
    public static string Shipped(params string[] relative)
    {
        var path = Path.Combine([RepositoryRoot, .. relative]);
        return File.Exists(path) || Directory.Exists(path) ? path : throw new FileNotFoundException($"{path} ships with the repository but is missing", path);
    }

    /// <summary>The shipped yolov7-tiny demo model (the same file as the shapes fixture).</summary>
    public static string ShapesModel => Shipped("models", "yolov7-tiny-shapes.pt");

    /// <summary>The shipped YOLOv8n demo model (the same file as the Ultralytics shapes fixture).</summary>
    public static string Yolov8ShapesModel => Shipped("models", "yolov8n-shapes.pt");

    /// <summary>The shipped demo clip (the same file as the shapes fixture's clip).</summary>
    public static string DemoClip => Shipped("samples", "shapes-demo.mp4");

    /// <summary>One of the three shipped sample images (val-00000, val-00002, val-00006 of the shapes fixtures).</summary>
    public static string SampleImage(string name) => Shipped("samples", "images", name);

    /// <summary>True when a shared fixture exists (for data-driven member data, which must not throw).</summary>
    public static bool Has(params string[] relative) => File.Exists(Path.Combine([SharedRoot, .. relative]));

    private static string FindRepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "StreamAnalyzer.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("cannot find StreamAnalyzer.sln above the test binaries");
    }
}
