namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary>Finds the system ffmpeg (H.264 output, network input) and picks the video writer accordingly.</summary>
public static class VideoEncoders
{
    private static readonly Lazy<string?> Ffmpeg = new(() => Find("ffmpeg"));
    private static readonly Lazy<string?> Setsid = new(() => OperatingSystem.IsLinux() ? Find("setsid") : null);

    /// <summary>Full path of ffmpeg, or null. <c>STREAM_ANALYZER_FFMPEG</c> overrides the search ("none" disables it).</summary>
    public static string? FfmpegPath => Ffmpeg.Value;

    /// <summary>Full path of setsid (Linux), used to keep terminal signals away from ffmpeg.</summary>
    public static string? SetsidPath => Setsid.Value;

    /// <summary>Writer for <paramref name="path"/>: ffmpeg/H.264 when available, else OpenCV/mp4v.</summary>
    public static IVideoWriter Open(string path, int width, int height, double fps)
    {
        if (System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)) is { } dir) Directory.CreateDirectory(dir);
        // libx264 with yuv420p needs even sizes; odd frames are rare (crop/rescale is the user's call), so mp4v takes them.
        if (FfmpegPath is not null && width % 2 == 0 && height % 2 == 0) return new FfmpegVideoWriter(path, width, height, fps);
        return new OpenCvVideoWriter(path, width, height, fps);
    }

    /// <summary>One line telling the user which encoder will be used.</summary>
    public static string Notice => FfmpegPath is not null
        ? $"video output: H.264 MP4 through {FfmpegPath}"
        : "video output: ffmpeg not found, writing MPEG-4 Part 2 (mp4v) with OpenCV - plays in VLC/ffplay but not in most browsers; install ffmpeg for H.264";

    private static string? Find(string program)
    {
        if (program == "ffmpeg" && Environment.GetEnvironmentVariable("STREAM_ANALYZER_FFMPEG") is { Length: > 0 } overridePath)
            return overridePath == "none" ? null : File.Exists(overridePath) ? overridePath : null;
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var name in OperatingSystem.IsWindows() ? new[] { program + ".exe" } : [program])
            {
                var candidate = System.IO.Path.Combine(dir, name);
                if (File.Exists(candidate)) return candidate;
            }
        }
        return null;
    }
}
