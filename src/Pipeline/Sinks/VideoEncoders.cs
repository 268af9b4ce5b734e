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

    /// <summary>One line telling the user which encoder and container a recording gets.</summary>
    /// <param name="save">The <c>--save</c> value: a video file name picks the container; a folder holds MP4s.</param>
    public static string Notice(string? save) => Ffmpeg.FfmpegPath is not { } ffmpeg
        ? "video output: ffmpeg not found, writing MPEG-4 Part 2 (mp4v) with OpenCV - plays in VLC/ffplay but not in most browsers, and not at all if the run is killed; install ffmpeg for H.264"
        : System.IO.Path.GetExtension(save ?? "").ToLowerInvariant() switch
        {
            ".mkv" => $"video output: H.264 in Matroska through {ffmpeg} (written as it goes: playable up to where the run stopped)",
            ".avi" => $"video output: H.264 in AVI through {ffmpeg} (its index is written when the run ends: .mp4 or .mkv stay playable if it is cut short)",
            ".mov" => $"video output: H.264 QuickTime through {ffmpeg} (fragmented: playable up to the last second if the run is cut short)",
            _ => $"video output: H.264 MP4 through {ffmpeg} (fragmented: playable up to the last second if the run is cut short)",
        };
}
