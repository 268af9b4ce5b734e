using OpenCvSharp;

namespace StreamAnalyzer.Pipeline.Sources;

/// <summary>
/// A still image decoded on the thread pool as soon as it is made, read as <see cref="ImageFrameSource"/> reads it:
/// images taken in order can be decoded several at a time.
/// </summary>
internal sealed class PrefetchedImage : IFrameSource
{
    private readonly Task<Mat> _decoding;
    private bool _handedOut;

    /// <summary>Starts decoding <paramref name="path"/>.</summary>
    public PrefetchedImage(string path)
    {
        Name = path;
        _decoding = Task.Run(() =>
        {
            using var source = new ImageFrameSource(path);
            source.TryRead(out var image, out _); // throws for an unreadable image; true otherwise
            return image;
        });
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public bool IsLive => false;

    /// <inheritdoc/>
    public bool IsImage => true;

    /// <inheritdoc/>
    public double Fps => 0;

    /// <inheritdoc/>
    public long? FrameCount => 1;

    /// <inheritdoc/>
    /// <exception cref="Runtime.UserInputException">The image cannot be read.</exception>
    public bool TryRead(out Mat image, out double timestampMs)
    {
        timestampMs = 0;
        image = null!;
        if (_handedOut) return false;
        _handedOut = true;
        image = _decoding.GetAwaiter().GetResult();
        return true;
    }

    /// <summary>Disposes the decoded image unless it was handed out (once its decoding ends, if it has not).</summary>
    public void Dispose()
    {
        if (_handedOut) return;
        _handedOut = true;
        _decoding.ContinueWith(t =>
        {
            if (t.IsCompletedSuccessfully) t.Result.Dispose();
            else _ = t.Exception; // observed: an unreadable image nobody asked for any more
        }, TaskScheduler.Default);
    }
}
