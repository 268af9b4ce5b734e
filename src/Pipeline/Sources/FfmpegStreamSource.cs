using System.Diagnostics;
using System.Globalization;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Sinks;

namespace StreamAnalyzer.Pipeline.Sources;

/// <summary>
/// A network stream (rtsp, rtmp, http(s), ...) decoded by the system ffmpeg into raw BGR frames on a pipe. The size
/// and rate come from ffprobe, which must answer within the open timeout. A watchdog ends the stream when no frame
/// arrives for the stall timeout, so the caller can reconnect.
/// </summary>
public sealed class FfmpegStreamSource : IFrameSource
{
    private readonly Process _process;
    private readonly Stream _stdout;
    private readonly Task<string> _stderr;
    private readonly int _width, _height;
    private readonly byte[] _buffer;
    private readonly Timer _watchdog;
    private readonly TimeSpan _stallTimeout;

    /// <summary>Probes and opens <paramref name="url"/>.</summary>
    /// <exception cref="UserInputException">No ffmpeg, or no stream at the URL within <paramref name="openTimeout"/>.</exception>
    public FfmpegStreamSource(string url, TimeSpan openTimeout, TimeSpan stallTimeout)
    {
        Name = url;
        _stallTimeout = stallTimeout;
        string ffmpeg = VideoEncoders.FfmpegPath ?? throw new UserInputException($"{url}: reading network streams needs ffmpeg, which is not installed");
        string ffprobe = Path.Combine(Path.GetDirectoryName(ffmpeg)!, OperatingSystem.IsWindows() ? "ffprobe.exe" : "ffprobe");
        (_width, _height, Fps) = Probe(ffprobe, url, openTimeout);
        _buffer = new byte[_width * _height * 3];
        var psi = new ProcessStartInfo(VideoEncoders.SetsidPath ?? ffmpeg)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        if (VideoEncoders.SetsidPath is not null) psi.ArgumentList.Add(ffmpeg);
        foreach (var a in new[] { "-hide_banner", "-loglevel", "error", "-nostdin", "-i", url, "-an", "-f", "rawvideo", "-pix_fmt", "bgr24", "-" })
            psi.ArgumentList.Add(a);
        _process = Process.Start(psi) ?? throw new UserInputException($"{url}: ffmpeg did not start");
        _stdout = _process.StandardOutput.BaseStream;
        _stderr = _process.StandardError.ReadToEndAsync();
        // Killing ffmpeg unblocks a read that waits on a stalled stream.
        _watchdog = new Timer(_ => Kill(), null, openTimeout + stallTimeout, Timeout.InfiniteTimeSpan);
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public bool IsLive => true;

    /// <inheritdoc/>
    public bool IsImage => false;

    /// <inheritdoc/>
    public double Fps { get; }

    /// <inheritdoc/>
    public long? FrameCount => null;

    /// <summary>Frame size from the probe.</summary>
    public (int Width, int Height) Size => (_width, _height);

    /// <inheritdoc/>
    public bool TryRead(out Mat image, out double timestampMs)
    {
        timestampMs = 0;
        image = null!;
        int read = 0;
        try
        {
            while (read < _buffer.Length)
            {
                int n = _stdout.Read(_buffer, read, _buffer.Length - read);
                if (n == 0) return false; // ended, dropped, or killed by the watchdog
                read += n;
            }
        }
        catch (IOException)
        {
            return false;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        _watchdog.Change(_stallTimeout, Timeout.InfiniteTimeSpan);
        image = Mat.FromPixelData(_height, _width, MatType.CV_8UC3, _buffer).Clone();
        return true;
    }

    /// <summary>ffmpeg's last error output, once it has ended.</summary>
    public string ErrorOutput => _stderr.IsCompleted ? _stderr.Result.Trim() : "";

    /// <summary>Ends a read in progress (from another thread): used to stop promptly.</summary>
    public void Interrupt() => Kill();

    private void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _watchdog.Dispose();
        Kill();
        _process.WaitForExit(5000);
        _process.Dispose();
    }

    private static (int Width, int Height, double Fps) Probe(string ffprobe, string url, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(ffprobe) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var arg in new[] { "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height,avg_frame_rate,r_frame_rate", "-of", "default=nw=1", url })
            psi.ArgumentList.Add(arg);
        using var p = Process.Start(psi) ?? throw new UserInputException($"{url}: ffprobe did not start");
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new UserInputException($"{url}: no video stream answered within {timeout.TotalSeconds:0} s (wrong address, or the camera is down)");
        }
        var fields = stdout.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('=', 2))
            .Where(kv => kv.Length == 2).GroupBy(kv => kv[0]).ToDictionary(g => g.Key, g => g.First()[1].Trim());
        if (p.ExitCode != 0 || !fields.TryGetValue("width", out var w) || !fields.TryGetValue("height", out var h))
        {
            string reason = stderr.Result.Trim().Split('\n').LastOrDefault()?.Trim() ?? "";
            throw new UserInputException($"{url}: cannot open the stream" + (reason.Length > 0 ? $" ({reason})" : ""));
        }
        double fps = Rate(fields.GetValueOrDefault("avg_frame_rate")) is > 0 and < 1000 and var a ? a : Rate(fields.GetValueOrDefault("r_frame_rate")) is > 0 and < 1000 and var r ? r : 25;
        return (int.Parse(w, CultureInfo.InvariantCulture), int.Parse(h, CultureInfo.InvariantCulture), fps);
    }

    private static double Rate(string? text)
    {
        if (text is null) return 0;
        var parts = text.Split('/');
        return parts.Length == 2 && double.TryParse(parts[0], CultureInfo.InvariantCulture, out var n) && double.TryParse(parts[1], CultureInfo.InvariantCulture, out var d) && d > 0 ? n / d : 0;
    }
}
