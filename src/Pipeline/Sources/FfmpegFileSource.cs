using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Sources;

/// <summary>
/// A local video file decoded by the system ffmpeg: 4:2:0 frames in a YUV4MPEG stream on a pipe, turned into BGR by
/// OpenCV. OpenCV's bundled FFmpeg decodes without its assembly routines; the system's took about 30% less CPU
/// a frame for the demo clip and a third less for a 1080p one, the pipe included (<c>docs/performance.md</c>). Each frame's presentation
/// time comes from a second, frame-less output of the same decode (<c>framecrc</c> of the decoded frames, on
/// ffmpeg's error stream), so variable-rate files keep their timeline. The YUV4MPEG header gives the size ffmpeg
/// delivers (after applying a rotation the file asks for). ffmpeg takes 150-300 ms to deliver its first frame (its
/// libraries load, the file is probed): <see cref="SourceCatalog.OpenVideoFile"/> starts it while ffprobe describes the file.
/// </summary>
public sealed class FfmpegFileSource : IFrameSource
{
    private readonly BlockingCollection<double> _timestamps = new();
    private readonly Process _process;
    private readonly Stream _stdout;
    private readonly StreamReader _stderr;
    private readonly Task _stderrReader;
    private readonly Yuv4MpegReader _frames;
    private bool _disposed;
    private double _timeBaseMs = double.NaN;
    private long _read;
    private bool _ended;

    /// <summary>Starts decoding <paramref name="path"/>, described by <paramref name="probe"/>.</summary>
    /// <param name="path">The video file.</param>
    /// <param name="probe">What ffprobe said of its video stream (size, rates, frame count).</param>
    /// <exception cref="InvalidOperationException">ffmpeg is not installed.</exception>
    public FfmpegFileSource(string path, VideoStreamInfo probe)
        : this(path, probe, StartDecoder(path))
    {
    }

    /// <summary>Takes over <paramref name="decoder"/>, started by <see cref="StartDecoder"/> on <paramref name="path"/>.</summary>
    internal FfmpegFileSource(string path, VideoStreamInfo probe, Process decoder)
    {
        Name = path;
        Fps = probe.TimelineFps;
        FrameCount = probe.FrameCount;
        _process = decoder;
        _stdout = decoder.StandardOutput.BaseStream;
        _stderr = decoder.StandardError;
        Ffmpeg.WidenPipe(_stdout);
        _frames = new Yuv4MpegReader(_stdout, path);
        _stderrReader = Task.Run(ReadTimestamps);
    }

    /// <summary>Whether a file whose video ffprobe describes as <paramref name="probe"/> can be read this way: 4:2:0 needs an even size.</summary>
    public static bool CanRead(VideoStreamInfo probe) => Ffmpeg.FfmpegPath is not null && probe.Width % 2 == 0 && probe.Height % 2 == 0;

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public bool IsLive => false;

    /// <inheritdoc/>
    public bool IsImage => false;

    /// <inheritdoc/>
    public double Fps { get; }

    /// <inheritdoc/>
    public long? FrameCount { get; }

    /// <inheritdoc/>
    public bool TryRead(out Mat image, out double timestampMs)
    {
        image = null!;
        timestampMs = 0;
        if (_ended) return false;
        try
        {
            if (!_frames.TryRead(out image))
            {
                _ended = true;
                return false;
            }
        }
        catch (IOException)
        {
            _ended = true;
            return false;
        }
        // Its line is written as the frame is (nothing else goes to that stream); should ffmpeg end without one, the
        // frame is placed by the rate.
        timestampMs = _timestamps.TryTake(out double pts, Timeout.Infinite) ? pts : (Fps > 0 ? _read * 1000.0 / Fps : _read);
        _read++;
        return true;
    }

    /// <summary>
    /// Starts ffmpeg decoding <paramref name="path"/>. Both outputs see every decoded frame once, in presentation order
    /// (passthrough: nothing duplicated or dropped); the second keeps the stream's own time base and is flushed frame
    /// by frame. ffmpeg logs nothing, so that its error stream carries only those lines (a log line could otherwise
    /// land in the middle of one); a damaged file shows as frames missing, which the run reports.
    /// </summary>
    /// <exception cref="InvalidOperationException">ffmpeg is not installed.</exception>
    internal static Process StartDecoder(string path)
    {
        string ffmpeg = Ffmpeg.FfmpegPath ?? throw new InvalidOperationException("ffmpeg is not installed");
        var process = Ffmpeg.Start(ffmpeg,
        [
            "-hide_banner", "-loglevel", "quiet", "-nostdin", "-i", Path.GetFullPath(path), "-vsync", "passthrough",
            "-map", "0:v:0", "-pix_fmt", "yuv420p", "-f", "yuv4mpegpipe", "pipe:1",
            "-map", "0:v:0", "-enc_time_base", "-1", "-c:v", "wrapped_avframe", "-flush_packets", "1", "-f", "framecrc", "pipe:2",
        ]);
        process.StandardInput.Close();
        return process;
    }

    /// <summary>Ends a decoder started by <see cref="StartDecoder"/> that no source took over.</summary>
    internal static void StopDecoder(Process decoder)
    {
        try
        {
            if (!decoder.HasExited) decoder.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        decoder.WaitForExit(5000);
        decoder.Dispose();
    }

    /// <summary>
    /// Waits for ffmpeg's stream header, which comes with the first decoded frame. False when none comes: the file
    /// has no decodable frame, or this ffmpeg does not take the options.
    /// </summary>
    internal bool Started()
    {
        try
        {
            return _frames.Started();
        }
        catch (IOException)
        {
            return false;
        }
    }

    // framecrc lines: "#tb 0: 1/12800" once, then "0, dts, pts, duration, size, checksum" per frame. Anything else
    // is ffmpeg complaining about a damaged file, which the run reports in its own words (frames missing).
    private void ReadTimestamps()
    {
        try
        {
            while (_stderr.ReadLine() is { } line)
            {
                if (line.StartsWith("#tb 0:", StringComparison.Ordinal))
                {
                    var parts = line[6..].Trim().Split('/');
                    if (parts.Length == 2 && double.TryParse(parts[0], CultureInfo.InvariantCulture, out double num)
                        && double.TryParse(parts[1], CultureInfo.InvariantCulture, out double den) && den > 0)
                        _timeBaseMs = num * 1000.0 / den;
                }
                else if (!line.StartsWith('#') && line.Split(',') is { Length: >= 6 } fields && fields[0].Trim() == "0"
                    && long.TryParse(fields[2], NumberStyles.AllowLeadingWhite | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out long pts)
                    && !double.IsNaN(_timeBaseMs))
                {
                    _timestamps.Add(pts * _timeBaseMs);
                }
            }
        }
        catch (IOException)
        {
            // ffmpeg was ended.
        }
        catch (ObjectDisposedException)
        {
            // Disposed while reading.
        }
        finally
        {
            _timestamps.CompleteAdding();
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        StopDecoder(_process);
        // The reader ends with ffmpeg's stream; the pipes are ours to close (Process leaves streams it handed out open).
        _stderrReader.Wait(TimeSpan.FromSeconds(5));
        _stdout.Dispose();
        _stderr.Dispose();
        _frames.Dispose();
        _timestamps.Dispose();
    }
}
