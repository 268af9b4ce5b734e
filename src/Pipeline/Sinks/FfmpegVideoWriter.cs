using System.Diagnostics;
using System.Runtime.InteropServices;
using OpenCvSharp;

namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary>
/// H.264 MP4 (browser-playable) through the system ffmpeg: raw BGR frames go to its stdin; closing stdin makes it
/// finish the file. ffmpeg runs in its own session (setsid) so a Ctrl+C in the terminal reaches only us, and we
/// close the file cleanly.
/// </summary>
public sealed class FfmpegVideoWriter : IVideoWriter
{
    private readonly Process _process;
    private readonly Stream _stdin;
    private readonly Task<string> _stderr;
    private readonly int _width, _height;
    private readonly VideoTimeline _timeline;
    private readonly byte[] _buffer;
    private bool _finished;

    /// <summary>Starts ffmpeg writing <paramref name="path"/> at <paramref name="fps"/>.</summary>
    public FfmpegVideoWriter(string path, int width, int height, double fps)
    {
        Path = path;
        _width = width;
        _height = height;
        _timeline = new VideoTimeline(fps);
        _buffer = new byte[width * height * 3];
        string ffmpeg = VideoEncoders.FfmpegPath ?? throw new InvalidOperationException("ffmpeg not found");
        var psi = new ProcessStartInfo(VideoEncoders.SetsidPath ?? ffmpeg)
        {
            RedirectStandardInput = true, RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false,
        };
        if (VideoEncoders.SetsidPath is not null) psi.ArgumentList.Add(ffmpeg);
        foreach (var a in new[]
        {
            "-hide_banner", "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", $"{width}x{height}",
            "-r", fps.ToString("0.######", System.Globalization.CultureInfo.InvariantCulture), "-i", "-",
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", path,
        }) psi.ArgumentList.Add(a);
        _process = Process.Start(psi) ?? throw new InvalidOperationException("ffmpeg did not start");
        _stdin = _process.StandardInput.BaseStream;
        _stderr = _process.StandardError.ReadToEndAsync();
        _ = _process.StandardOutput.ReadToEndAsync();
    }

    /// <inheritdoc/>
    public string Path { get; }

    /// <inheritdoc/>
    public long FramesWritten { get; private set; }

    /// <inheritdoc/>
    public void Write(Mat frame, double timestampMs)
    {
        if (frame.Width != _width || frame.Height != _height)
            throw new InvalidOperationException($"{Path}: frame size changed from {_width}x{_height} to {frame.Width}x{frame.Height}");
        int row = _width * 3;
        for (int y = 0; y < _height; y++) Marshal.Copy(frame.Ptr(y), _buffer, y * row, row);
        int copies = _timeline.CopiesFor(timestampMs);
        try
        {
            for (int i = 0; i < copies; i++) _stdin.Write(_buffer);
        }
        catch (IOException e)
        {
            throw new IOException($"{Path}: ffmpeg stopped accepting frames: {Finish()}", e);
        }
        FramesWritten += copies;
    }

    /// <summary>Closes ffmpeg's input and waits for it to finish the file; returns its error output if it failed.</summary>
    private string Finish()
    {
        if (_finished) return "";
        _finished = true;
        try { _stdin.Dispose(); } catch (IOException) { }
        if (!_process.WaitForExit(TimeSpan.FromSeconds(60))) _process.Kill();
        string err = _stderr.Wait(TimeSpan.FromSeconds(5)) ? _stderr.Result.Trim() : "";
        return _process.ExitCode == 0 ? "" : $"ffmpeg exited with {_process.ExitCode}: {err}";
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        string error = Finish();
        _process.Dispose();
        if (error.Length > 0) throw new IOException($"{Path}: {error}");
    }
}
