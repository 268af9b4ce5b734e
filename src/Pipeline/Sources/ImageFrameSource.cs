using OpenCvSharp;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Sources;

/// <summary>A still image as a one-frame source.</summary>
public sealed class ImageFrameSource(string path) : IFrameSource
{
    private bool _done;
    private Task<Mat>? _decoding;

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

    /// <summary>
    /// Starts decoding on the thread pool now, for <see cref="TryRead"/> to take: images passed on in order can be
    /// decoded several at a time.
    /// </summary>
    internal ImageFrameSource DecodeAhead()
    {
        _decoding ??= Task.Run(Decode);
        return this;
    }

    /// <inheritdoc/>
    /// <exception cref="UserInputException">The image cannot be read.</exception>
    public bool TryRead(out Mat image, out double timestampMs)
    {
        timestampMs = 0;
        image = null!;
        if (_done) return false;
        _done = true;
        image = _decoding is { } decoding ? decoding.GetAwaiter().GetResult() : Decode();
        return true;
    }

    private Mat Decode()
    {
        var image = Cv2.ImRead(Name, ImreadModes.Color);
        if (!image.Empty()) return image;
        image.Dispose();
        throw new UserInputException($"{Name}: cannot read image (missing, corrupt or not an image)");
    }

    /// <summary>Disposes an image decoded ahead that was never read (once its decoding ends).</summary>
    public void Dispose()
    {
        if (_done || _decoding is not { } decoding) return;
        _done = true;
        decoding.ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully) t.Result.Dispose();
            else _ = t.Exception; // an unreadable image nobody asked for any more: observed, not rethrown
        }, TaskScheduler.Default);
    }
}
