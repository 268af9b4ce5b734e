using System.Diagnostics;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Sources;

/// <summary>
/// A network stream (rtsp, rtmp, http(s), ...) decoded by the system ffmpeg: 4:2:0 frames in a YUV4MPEG stream on a
/// pipe, turned into BGR by OpenCV, as <see cref="FfmpegFileSource"/> reads files (half the bytes of BGR on the pipe,
/// and ffmpeg's conversion to BGR cost more CPU than OpenCV's). A stream of an odd size, which 4:2:0 cannot carry
/// whole, comes as BGR. The rate comes from ffprobe, which must answer within the open timeout. A watchdog ends the
/// stream when no frame arrives for the stall timeout, so the caller can reconnect.
/// </summary>
public sealed partial class FfmpegStreamSource : IFrameSource
{
    private readonly Process _process;
    private readonly Stream _stdout;
    private readonly Task<string> _stderr;
    private string? _readerError;
    private readonly int _width, _height;
    private readonly Yuv4MpegReader? _frames;
    private readonly byte[]? _bgr;
    private readonly Timer _watchdog;
    private readonly TimeSpan _stallTimeout;

    /// <summary>Probes and opens <paramref name="url"/>.</summary>
    /// <exception cref="UserInputException">No ffmpeg, or no stream at the URL within <paramref name="openTimeout"/>.</exception>
    public FfmpegStreamSource(string url, TimeSpan openTimeout, TimeSpan stallTimeout)
    {
        Name = StreamAddress.Redacted(url);
        _stallTimeout = stallTimeout;
        string ffmpeg = Ffmpeg.FfmpegPath ?? throw new UserInputException($"{Name}: reading network streams needs ffmpeg, which is not installed");
        if (Ffmpeg.FfprobePath is null) throw new UserInputException($"{Name}: reading network streams needs ffprobe (part of ffmpeg), which is not installed");
        var info = Ffmpeg.Probe(url, openTimeout, out string error);
        if (info is null)
            throw new UserInputException(error.StartsWith("no answer", StringComparison.Ordinal)
                ? $"{Name}: no video stream answered within {openTimeout.TotalSeconds:0} s (wrong address, or the camera is down)"
                : $"{Name}: cannot open the stream ({StreamAddress.Redacted(error)})");
        (_width, _height) = (info.Width, info.Height);
        Fps = info.AverageFps > 0 ? info.AverageFps : info.NominalFps > 0 ? info.NominalFps : 25;
        bool yuv = _width % 2 == 0 && _height % 2 == 0;
        // Full-range cameras (yuvj420p) are brought to limited range, which the conversion to BGR expects.
        string[] output = yuv ? ["-vf", "scale=out_range=tv", "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe"] : ["-pix_fmt", "bgr24", "-f", "rawvideo"];
        _process = Ffmpeg.Start(ffmpeg, ["-hide_banner", "-loglevel", "error", "-nostdin", "-i", url, "-an", "-map", "0:v:0", .. output, "-"]);
        _stdout = _process.StandardOutput.BaseStream;
        Ffmpeg.WidenPipe(_stdout);
        if (yuv) _frames = new Yuv4MpegReader(_stdout, Name);
        else _bgr = new byte[_width * _height * 3];
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
        try
        {
            if (_frames is not null)
            {
                if (!_frames.TryRead(out image)) return false; // ended, dropped, or killed by the watchdog
            }
            else
            {
                int read = 0;
                while (read < _bgr!.Length)
                {
                    int n = _stdout.Read(_bgr, read, _bgr.Length - read);
                    if (n == 0) return false;
                    read += n;
                }
                image = Mat.FromPixelData(_height, _width, MatType.CV_8UC3, _bgr).Clone();
            }
        }
        catch (IOException e)
        {
            _readerError = e.Message;
            return false;
        }
        catch (ObjectDisposedException)
        {
            return false;
        }
        _watchdog.Change(_stallTimeout, Timeout.InfiniteTimeSpan);
        return true;
    }

    /// <summary>
    /// Why the stream ended, where known (empty otherwise, e.g. after a stall): the frame stream's own error, or
    /// ffmpeg's last error line (it writes it as it exits, so this waits up to a second for that).
    /// </summary>
    public string Failure
    {
        get
        {
            if (_readerError is not null) return _readerError;
            if (!_process.WaitForExit(1000) || !WaitForErrorOutput() || !_stderr.IsCompletedSuccessfully) return "";
            // The decoder's complaints about a damaged frame ("[h264 @ 0x...] mmco: unref short failure") come and go on
            // a healthy stream too: they do not say why it ended, so only ffmpeg's own lines are quoted.
            string last = _stderr.Result.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .LastOrDefault(line => !DecoderMessage().IsMatch(line)) ?? "";
            return StreamAddress.Redacted(last);
        }
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"^\[(h264|hevc|mpeg4|mpeg2video|mjpeg|vp8|vp9|av1|libdav1d) @ 0x[0-9a-f]+\]")]
    private static partial System.Text.RegularExpressions.Regex DecoderMessage();

    // Up to a second for ffmpeg's error output to be read to its end; a failed read counts as ended (Task.Wait would
    // throw it, from Dispose too).
    private bool WaitForErrorOutput() => Task.WaitAny([_stderr], TimeSpan.FromSeconds(1)) == 0;

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
        // Process leaves the pipes it handed out open: closed here, or each reconnection would keep two.
        _stdout.Dispose();
        WaitForErrorOutput();
        _process.StandardError.Dispose();
        _process.Dispose();
        _frames?.Dispose();
    }
}
