using System.Diagnostics;
using System.Globalization;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary>
/// H.264 MP4 (browser-playable; Matroska, QuickTime or AVI where the file's extension says so) through the system
/// ffmpeg: raw frames go to its stdin; closing stdin makes it finish the file. The MP4 is fragmented, with a key frame and a fragment every second, so whatever was written
/// stays playable up to the last second if the disk fills up, ffmpeg dies or the machine loses power. ffmpeg runs
/// in its own session so a Ctrl+C in the terminal reaches only us, and we close the file cleanly. Frames of even size
/// go to ffmpeg already converted to 4:2:0 (<see cref="ColorConversionCodes.BGR2YUV_I420"/>, BT.601 limited range as
/// ffmpeg's own conversion): OpenCV's conversion is vectorised, ffmpeg's bgr24 input cost its process about an eighth
/// more CPU (docs/performance.md), and the pipe carries half the bytes. Frames of odd width or height (which 4:2:0
/// cannot take) go as BGR and are padded by one pixel.
/// </summary>
public sealed class FfmpegVideoWriter : IVideoWriter
{
    private readonly Process _process;
    private readonly Stream _stdin;
    private readonly Task<string> _stderr;
    private readonly int _width, _height;
    private readonly VideoTimeline _timeline;
    // The converted frame (even sizes), or null: BGR rows are written as they are.
    private readonly Mat? _yuv;
    private bool _finished;

    /// <summary>Starts ffmpeg writing <paramref name="path"/> at <paramref name="fps"/>.</summary>
    /// <param name="path">The file; its extension picks the container.</param>
    /// <param name="width">Frame width.</param>
    /// <param name="height">Frame height.</param>
    /// <param name="fps">Frames per second of the file.</param>
    /// <param name="preset">The x264 preset (<see cref="EncoderPresets"/>; null: the automatic choice).</param>
    public FfmpegVideoWriter(string path, int width, int height, double fps, string? preset = null)
    {
        Path = path;
        _width = width;
        _height = height;
        _timeline = new VideoTimeline(fps);
        bool even = width % 2 == 0 && height % 2 == 0;
        string ffmpeg = Ffmpeg.FfmpegPath ?? throw new InvalidOperationException("ffmpeg not found");
        string rate = fps.ToString("0.######", CultureInfo.InvariantCulture);
        int keyInterval = Math.Max(1, (int)Math.Round(fps));
        var arguments = new List<string>
        {
            "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", even ? "yuv420p" : "bgr24", "-s", $"{width}x{height}", "-r", rate, "-i", "-",
        };
        if (!even) arguments.AddRange(["-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"]);
        arguments.AddRange(
        [
            "-c:v", "libx264", "-preset", EncoderPresets.Resolve(preset), "-pix_fmt", "yuv420p", "-g", keyInterval.ToString(CultureInfo.InvariantCulture),
            "-flush_packets", "1",
        ]);
        // A full path: a relative one could start with '-' (an option to ffmpeg) or hold a ':' (a protocol).
        arguments.AddRange(Container(System.IO.Path.GetFullPath(path)));
        _process = Ffmpeg.Start(ffmpeg, arguments);
        _stdin = _process.StandardInput.BaseStream;
        Ffmpeg.WidenPipe(_stdin);
        _stderr = _process.StandardError.ReadToEndAsync();
        _ = _process.StandardOutput.ReadToEndAsync();
        if (even) _yuv = new Mat(height * 3 / 2, width, MatType.CV_8UC1);
    }

    /// <inheritdoc/>
    public string Path { get; }

    // The container the file's extension names (the H.264 stream is the same): MP4 and QuickTime fragmented, so a cut
    // file plays; Matroska is written as it goes anyway; AVI, whose index comes last, only when ffmpeg closes it.
    private static string[] Container(string path)
    {
        string[] fragmented = ["-movflags", "+frag_keyframe+empty_moov+default_base_moof"];
        return System.IO.Path.GetExtension(path).ToLowerInvariant() switch
        {
            ".mkv" => ["-f", "matroska", path],
            ".mov" => [.. fragmented, "-f", "mov", path],
            ".avi" => ["-f", "avi", path],
            _ => [.. fragmented, "-f", "mp4", path],
        };
    }

    /// <inheritdoc/>
    public long FramesWritten { get; private set; }

    /// <inheritdoc/>
    public void Write(Mat frame, double timestampMs)
    {
        if (frame.Width != _width || frame.Height != _height)
            throw new InvalidOperationException($"{Path}: frame size changed from {_width}x{_height} to {frame.Width}x{frame.Height}");
        if (frame.Type() != MatType.CV_8UC3) throw new ArgumentException($"{Path}: frames must be 8-bit BGR, not {frame.Type()}", nameof(frame));
        int copies = _timeline.CopiesFor(timestampMs);
        if (copies == 0) return;
        try
        {
            if (_yuv is not null)
            {
                Cv2.CvtColor(frame, _yuv, ColorConversionCodes.BGR2YUV_I420);
                for (int i = 0; i < copies; i++) WriteRows(_yuv);
            }
            else
            {
                for (int i = 0; i < copies; i++) WriteRows(frame);
            }
        }
        catch (IOException e)
        {
            throw new IOException($"{Path}: recording stopped after {FramesWritten} frame{(FramesWritten == 1 ? "" : "s")}: {Finish()}{(FramesWritten > 0 ? " (what was written before plays)" : "")}", e);
        }
        FramesWritten += copies;
    }

    // Straight from the Mat's memory: whole when continuous, else row by row.
    private unsafe void WriteRows(Mat image)
    {
        int row = image.Cols * (int)image.ElemSize(), rows = image.Rows;
        if (image.IsContinuous())
        {
            _stdin.Write(new ReadOnlySpan<byte>((void*)image.Data, row * rows));
            return;
        }
        for (int y = 0; y < rows; y++) _stdin.Write(new ReadOnlySpan<byte>((void*)image.Ptr(y), row));
    }

    /// <summary>Closes ffmpeg's input and waits for it to finish the file; returns why it failed, or "".</summary>
    private string Finish()
    {
        if (_finished) return "";
        _finished = true;
        try { _stdin.Dispose(); } catch (IOException) { }
        if (!_process.WaitForExit(TimeSpan.FromSeconds(60))) _process.Kill();
        string err = _stderr.Wait(TimeSpan.FromSeconds(5)) ? _stderr.Result.Trim() : "";
        if (_process.ExitCode == 0) return "";
        string last = err.Split('\n', StringSplitOptions.RemoveEmptyEntries).LastOrDefault()?.Trim() ?? "";
        return $"ffmpeg exited with {_process.ExitCode}" + (last.Length > 0 ? $" ({last})" : "");
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        string error = Finish();
        _process.Dispose();
        _yuv?.Dispose();
        if (error.Length > 0) throw new IOException($"{Path}: {error}");
    }
}
