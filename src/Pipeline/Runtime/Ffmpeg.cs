using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace StreamAnalyzer.Pipeline.Runtime;

/// <summary>
/// The system ffmpeg and ffprobe, in one place: where they are, how they are started (in their own session, so a
/// Ctrl+C in the terminal reaches only us and we can finish their files), and how a video is probed.
/// </summary>
public static class Ffmpeg
{
    private static readonly Lazy<string?> FfmpegLocation = new(() => Locate("ffmpeg"));
    private static readonly Lazy<string?> FfprobeLocation = new(() => Locate("ffprobe"));
    private static readonly Lazy<string?> SetsidLocation = new(() => OperatingSystem.IsLinux() ? Find("setsid") : null);

    /// <summary>Full path of ffmpeg, or null. <c>STREAM_ANALYZER_FFMPEG</c> overrides the search ("none" disables it).</summary>
    public static string? FfmpegPath => FfmpegLocation.Value;

    /// <summary>Full path of ffprobe (beside ffmpeg), or null.</summary>
    public static string? FfprobePath => FfprobeLocation.Value;

    /// <summary>Starts <paramref name="program"/> with its standard streams redirected, in a session of its own where setsid exists.</summary>
    public static Process Start(string program, IEnumerable<string> arguments)
    {
        var psi = new ProcessStartInfo(SetsidLocation.Value ?? program)
        {
            RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        if (SetsidLocation.Value is not null) psi.ArgumentList.Add(program);
        foreach (var a in arguments) psi.ArgumentList.Add(a);
        return Process.Start(psi) ?? throw new InvalidOperationException($"{program} did not start");
    }

    /// <summary>The reason <see cref="Probe"/> gives for a file ffprobe reads without error that holds no video (audio only).</summary>
    public const string NoVideoStream = "no video stream";

    /// <summary>What ffprobe says of the first video stream of <paramref name="input"/>.</summary>
    /// <param name="input">A file or URL.</param>
    /// <param name="timeout">How long ffprobe may take (a stream that does not answer).</param>
    /// <param name="error">Why nothing was found (empty on success).</param>
    /// <returns>The stream, or null when ffprobe is missing, timed out or found no video stream; <paramref name="error"/> then says why.</returns>
    /// <remarks>
    /// A local file's description (or that it holds no video) is kept while its size and modification time stay the
    /// same: a run asks once to count the frames for its progress bar and again when it opens the file. Entries are a
    /// few dozen bytes per file a process has opened.
    /// </remarks>
    public static VideoStreamInfo? Probe(string input, TimeSpan timeout, out string error)
    {
        var file = new FileInfo(input);
        if (!file.Exists) return ProbeNow(input, timeout, out error);
        var key = (file.FullName, file.Length, file.LastWriteTimeUtc);
        if (!Probed.TryGetValue(key, out var answer))
        {
            var info = ProbeNow(file.FullName, timeout, out string why);
            answer = (info, why);
            // An answer or "no video stream" is the file's; a failure may be the moment's (a timeout, no file handles left).
            if (info is not null || why == NoVideoStream) Probed[key] = answer;
        }
        error = answer.Error;
        return answer.Info;
    }

    private static readonly ConcurrentDictionary<(string Path, long Length, DateTime Written), (VideoStreamInfo? Info, string Error)> Probed = new();

    private static VideoStreamInfo? ProbeNow(string input, TimeSpan timeout, out string error)
    {
        error = "ffprobe is not installed";
        if (FfprobePath is not { } ffprobe) return null;
        using var p = Start(ffprobe, ["-v", "error", "-select_streams", "v:0", "-show_entries",
            "stream=width,height,avg_frame_rate,r_frame_rate,nb_frames,duration:format=duration", "-of", "default=nw=1", input]);
        p.StandardInput.Close();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            error = $"no answer within {timeout.TotalSeconds:0} s";
            return null;
        }
        // The stream's duration comes before the container's; "N/A" where a field is unknown.
        var fields = stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('=', 2))
            .Where(kv => kv.Length == 2 && kv[1].Trim() != "N/A").GroupBy(kv => kv[0]).ToDictionary(g => g.Key, g => g.First()[1].Trim());
        if (p.ExitCode != 0 || !int.TryParse(fields.GetValueOrDefault("width"), CultureInfo.InvariantCulture, out int w)
            || !int.TryParse(fields.GetValueOrDefault("height"), CultureInfo.InvariantCulture, out int h))
        {
            error = stderr.Result.Trim().Split('\n').LastOrDefault()?.Trim() is { Length: > 0 } reason ? reason : NoVideoStream;
            return null;
        }
        error = "";
        double average = Rate(fields.GetValueOrDefault("avg_frame_rate")), nominal = Rate(fields.GetValueOrDefault("r_frame_rate"));
        return new VideoStreamInfo(w, h, average, nominal, FrameCount(fields, average > 0 ? average : nominal));
    }

    // The container's count where it keeps one (MP4, QuickTime), else the duration times the rate, as OpenCV estimates it.
    private static long? FrameCount(Dictionary<string, string> fields, double fps)
    {
        if (long.TryParse(fields.GetValueOrDefault("nb_frames"), CultureInfo.InvariantCulture, out long n) && n > 0) return n;
        return double.TryParse(fields.GetValueOrDefault("duration"), CultureInfo.InvariantCulture, out double seconds) && seconds > 0 && fps > 0
            ? (long)Math.Round(seconds * fps) : null;
    }

    /// <summary>
    /// Enlarges a pipe to ffmpeg (its buffer) to 1 MiB where the system allows it (Linux): a frame then crosses in one or
    /// two writes instead of one per 64 KiB, with fewer wake-ups of the other side. Nothing changes elsewhere or on failure.
    /// </summary>
    public static void WidenPipe(Stream pipe)
    {
        if (!OperatingSystem.IsLinux() || pipe is not System.IO.Pipes.PipeStream { SafePipeHandle: var handle } || handle.IsInvalid) return;
        const int SetPipeSize = 1031; // F_SETPIPE_SZ
        _ = fcntl((int)handle.DangerousGetHandle(), SetPipeSize, 1 << 20);
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = true)]
    private static extern int fcntl(int descriptor, int command, int argument);

    private static double Rate(string? text)
    {
        var parts = (text ?? "").Split('/');
        return parts.Length == 2 && double.TryParse(parts[0], CultureInfo.InvariantCulture, out var n)
            && double.TryParse(parts[1], CultureInfo.InvariantCulture, out var d) && d > 0 && n / d is > 0 and < 1000 ? n / d : 0;
    }

    private static string? Locate(string program)
    {
        if (Environment.GetEnvironmentVariable("STREAM_ANALYZER_FFMPEG") is { Length: > 0 } overridePath)
        {
            if (overridePath == "none" || !File.Exists(overridePath)) return null;
            if (program == "ffmpeg") return overridePath;
            var beside = Path.Combine(Path.GetDirectoryName(overridePath)!, OperatingSystem.IsWindows() ? program + ".exe" : program);
            return File.Exists(beside) ? beside : null;
        }
        return Find(program);
    }

    private static string? Find(string program)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, OperatingSystem.IsWindows() ? program + ".exe" : program);
            if (File.Exists(candidate)) return candidate;
        }
        return null;
    }
}
