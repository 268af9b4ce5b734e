using OpenCvSharp;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Sources;

/// <summary>A still image as a one-frame source.</summary>
public sealed class ImageFrameSource(string path) : IFrameSource
{
    private bool _done;

    /// <inheritdoc/>
    public string Name { get; } = path;

    /// <inheritdoc/>
    public bool IsLive => false;

    /// <inheritdoc/>
    public bool IsImage => true;

    /// <inheritdoc/>
    public double Fps => 0;

    /// <inheritdoc/>
    public long? FrameCount => 1;

    /// <inheritdoc/>
    public bool TryRead(out Mat image, out double timestampMs)
    {
        timestampMs = 0;
        image = null!;
        if (_done) return false;
        _done = true;
        image = Cv2.ImRead(Name, ImreadModes.Color);
        if (!image.Empty()) return true;
        image.Dispose();
        throw new UserInputException($"{Name}: cannot read image (missing, corrupt or not an image)");
    }

    /// <inheritdoc/>
    public void Dispose() { }
}
