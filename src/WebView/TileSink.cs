using OpenCvSharp;
using StreamAnalyzer.Pipeline.Rendering;
using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.WebView;

/// <summary>
/// The sink that feeds the web page. Per frame it records the detections (cheap, managed) and, while someone watches
/// that stream (or once a second otherwise, for a fresh still), hands a copy of the picture to its own encoder
/// thread. Only the newest copy per stream waits there: a slow encoder drops frames for the page, never for the
/// pipeline. Every copy is disposed by the encoder or when it is replaced.
/// </summary>
public sealed class TileSink : IFrameSink
{
    private const int MaxWidth = 1280;
    private readonly IReadOnlyList<StreamTile> _tiles;
    private readonly (Mat Image, ExplainedMaps? Maps)?[] _pending;
    private readonly long[] _lastCopied;
    private readonly Lock _gate = new();
    private readonly SemaphoreSlim _work = new(0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread _encoder;

    /// <summary>Starts the encoder thread for <paramref name="tiles"/>.</summary>
    public TileSink(IReadOnlyList<StreamTile> tiles)
    {
        _tiles = tiles;
        _pending = new (Mat, ExplainedMaps?)?[tiles.Count];
        _lastCopied = new long[tiles.Count];
        _encoder = new Thread(Encode) { IsBackground = true, Name = "web-jpeg" };
        _encoder.Start();
    }

    /// <summary>JPEG quality, 1-100.</summary>
    public int Quality { get; init; } = 80;

    /// <inheritdoc/>
    public void Write(AnalyzedFrame frame)
    {
        int i = frame.Frame.SourceIndex;
        if ((uint)i >= (uint)_tiles.Count) return;
        var tile = _tiles[i];
        tile.Frame(frame);
        // An explained frame's maps are shown over that same frame: they are published with its picture.
        var maps = frame.Explained && frame.Result.Explanations is { } explanations
            ? new ExplainedMaps(frame.Frame.Index, explanations, frame.Result.Geometry, frame.Controls.Method) : null;
        long now = Environment.TickCount64;
        if (tile.Viewers == 0 && now - _lastCopied[i] < 1000 && (maps is null || tile.LastMaps is not null)) return;
        _lastCopied[i] = now;
        var image = frame.ImageFor(OverlayLayers.All);
        Mat copy;
        if (image.Width > MaxWidth)
        {
            copy = new Mat();
            Cv2.Resize(image, copy, new Size(MaxWidth, (int)Math.Round(image.Height * (double)MaxWidth / image.Width)), 0, 0, InterpolationFlags.Area);
        }
        else
        {
            copy = image.Clone();
        }
        (Mat Image, ExplainedMaps? Maps)? replaced;
        lock (_gate)
        {
            replaced = _pending[i];
            _pending[i] = (copy, maps);
        }
        replaced?.Image.Dispose();
        if (replaced is null) _work.Release();
    }

    /// <inheritdoc/>
    public void CompleteSource(int source) { }

    private void Encode()
    {
        var quality = new ImageEncodingParam(ImwriteFlags.JpegQuality, Quality);
        try
        {
            while (true)
            {
                _work.Wait(_stop.Token);
                for (int i = 0; i < _pending.Length; i++)
                {
                    (Mat Image, ExplainedMaps? Maps)? item;
                    lock (_gate)
                    {
                        item = _pending[i];
                        _pending[i] = null;
                    }
                    if (item is not { } work) continue;
                    using (work.Image)
                    {
                        Cv2.ImEncode(".jpg", work.Image, out byte[] jpeg, quality);
                        _tiles[i].Encoded(jpeg, work.Maps);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Disposed.
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        if (_stop.IsCancellationRequested) return;
        _stop.Cancel();
        _encoder.Join();
        lock (_gate)
        {
            for (int i = 0; i < _pending.Length; i++)
            {
                _pending[i]?.Image.Dispose();
                _pending[i] = null;
            }
        }
        _stop.Dispose();
        _work.Dispose();
    }
}
