namespace StreamAnalyzer.Pipeline.Runtime;

/// <summary>A video stream as ffprobe describes it.</summary>
/// <param name="Width">Frame width.</param>
/// <param name="Height">Frame height.</param>
/// <param name="AverageFps">Frames per second on average (<c>avg_frame_rate</c>; 0 when unknown).</param>
/// <param name="NominalFps">The stream's base rate (<c>r_frame_rate</c>): the rate on which a variable-rate video's frames fall (0 when unknown).</param>
/// <param name="FrameCount">Frames the container lists, else its duration times the average rate; null when neither is known (a live stream).</param>
public sealed record VideoStreamInfo(int Width, int Height, double AverageFps, double NominalFps, long? FrameCount = null)
{
    /// <summary>
    /// The rate to lay the stream's frames on: the base rate where it is plausible (a variable-rate file that skips
    /// frames has a lower average), else the average.
    /// </summary>
    public double TimelineFps => NominalFps > 0 && (AverageFps <= 0 || NominalFps <= AverageFps * 2.5) ? NominalFps : AverageFps;
}
