using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary>Picks the video writer: H.264 through the system ffmpeg where it is installed, else OpenCV's mp4v.</summary>
public static class VideoEncoders
{
    /// <summary>Writer for <paramref name="path"/>: ffmpeg/H.264 (x264 <paramref name="preset"/>, see <see cref="EncoderPresets"/>) when available, else OpenCV/mp4v.</summary>
    public static IVideoWriter Open(string path, int width, int height, double fps, string? preset = null)
    {
        if (System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)) is { } dir) Directory.CreateDirectory(dir);
        if (Ffmpeg.FfmpegPath is not null) return new FfmpegVideoWriter(path, width, height, fps, preset);
        return new OpenCvVideoWriter(path, width, height, fps);
    }

    /// <summary>One line telling the user which encoder will be used.</summary>
    public static string Notice => Ffmpeg.FfmpegPath is { } ffmpeg
        ? $"video output: H.264 MP4 through {ffmpeg} (fragmented: playable up to the last second if the run is cut short)"
        : "video output: ffmpeg not found, writing MPEG-4 Part 2 (mp4v) with OpenCV - plays in VLC/ffplay but not in most browsers, and not at all if the run is killed; install ffmpeg for H.264";
}
