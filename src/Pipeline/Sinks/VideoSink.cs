using System.Collections.Concurrent;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Rendering;
using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary>
/// Writes each source's rendered frames to its own output: a video file for video sources (H.264 through ffmpeg, or
/// mp4v through OpenCV), an image file for image sources. Finishing or disposing closes the files so they play.
/// </summary>
/// <param name="outputFor">Output path for source i (see <see cref="OutputPaths"/>).</param>
/// <param name="fpsOf">Source fps (0 when unknown) for source i.</param>
/// <param name="isImage">True when source i is a still image.</param>
/// <param name="vidStride">Frames skipped per frame kept: the output rate is the source rate / stride.</param>
public sealed class VideoSink(Func<int, string> outputFor, Func<int, double> fpsOf, Func<int, bool> isImage, int vidStride) : IFrameSink
{
    private readonly ConcurrentDictionary<int, (IVideoWriter Writer, Size Size)> _writers = new();
    private readonly List<string> _written = [];
    private readonly List<Exception> _errors = [];

    /// <summary>What the recording shows over the picture (<c>--save-heatmap false</c> leaves the heatmap out).</summary>
    public OverlayLayers Layers { get; init; } = OverlayLayers.All;

    /// <summary>The x264 preset of video files (<see cref="EncoderPresets"/>; null: the automatic choice).</summary>
    public string? EncoderPreset { get; init; }

    /// <summary>Files written so far.</summary>
    public IReadOnlyList<string> Outputs => _written;

    /// <inheritdoc/>
    public void Write(AnalyzedFrame frame)
    {
        int source = frame.Frame.SourceIndex;
        var image = frame.ImageFor(Layers);
        if (isImage(source))
        {
            string path = outputFor(source);
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            if (!Cv2.ImWrite(path, image)) throw new IOException($"{path}: the annotated image could not be written (disk full, or no permission?)");
            _written.Add(path);
            return;
        }
        if (_writers.TryGetValue(source, out var opened) && opened.Size != image.Size())
        {
            // Opened ahead at another size: start the file again at the size the frames have.
            _writers.TryRemove(source, out _);
            Close(opened.Writer);
        }
        var writer = _writers.GetOrAdd(source, s => (Open(s, image.Width, image.Height), image.Size())).Writer;
        writer.Write(image, frame.Frame.TimestampMs);
    }

    /// <summary>
    /// Opens a video source's file ahead of its first frame: the encoder (ffmpeg takes 100-170 ms to start reading)
    /// gets ready while the first frame is analysed. Where that fails, the first frame opens it again and reports why.
    /// </summary>
    public void SourceStarting(int source, int width, int height)
    {
        if (isImage(source) || _writers.ContainsKey(source)) return;
        try
        {
            _writers.TryAdd(source, (Open(source, width, height), new Size(width, height)));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidOperationException
            or System.ComponentModel.Win32Exception or OpenCVException)
        {
            // Reported by the first frame's Write, which tries again.
        }
    }

    private IVideoWriter Open(int source, int width, int height)
    {
        double fps = fpsOf(source) > 0 ? fpsOf(source) / Math.Max(1, vidStride) : 25;
        var w = VideoEncoders.Open(outputFor(source), width, height, fps, EncoderPreset);
        lock (_written)
        {
            if (!_written.Contains(w.Path)) _written.Add(w.Path);
        }
        return w;
    }

    /// <inheritdoc/>
    public void CompleteSource(int source)
    {
        if (_writers.TryRemove(source, out var writer)) Close(writer.Writer);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var source in _writers.Keys.ToArray()) CompleteSource(source);
        if (_errors.Count > 0) throw new AggregateException("video output failed", _errors);
    }

    private void Close(IVideoWriter writer)
    {
        try
        {
            writer.Dispose();
        }
        catch (IOException e)
        {
            _errors.Add(e);
        }
        // A file opened ahead (SourceStarting) whose source never got a frame written holds nothing: not left behind.
        if (writer.FramesWritten == 0)
        {
            try
            {
                File.Delete(writer.Path);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
            lock (_written) _written.Remove(writer.Path);
        }
    }
}
