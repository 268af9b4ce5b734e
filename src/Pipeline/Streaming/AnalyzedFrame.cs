using StreamAnalyzer.Pipeline.Application;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Rendering;

namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>A frame with its detections (and explanations when due). Owns the frame: disposing it disposes the frame.</summary>
public sealed class AnalyzedFrame(Frame frame, DetectionResult result, bool explained, StreamControls? controls = null) : IDisposable
{
    /// <summary>The stream's settings this frame was analysed with (rendering and outputs follow them too).</summary>
    public StreamControls Controls { get; } = controls ?? new StreamControls();

    /// <summary>The frame (rendering draws on its image).</summary>
    public Frame Frame { get; } = frame;

    /// <summary>Detections and timings.</summary>
    public DetectionResult Result { get; } = result;

    /// <summary>True when this frame was explained (not a held map).</summary>
    public bool Explained { get; } = explained;

    /// <summary>Per-detection map statistics for the explained detections (null when not explained).</summary>
    public IReadOnlyList<MapStatistics>? MapStatistics { get; set; }

    /// <summary>Milliseconds spent rendering.</summary>
    public double RenderMs { get; set; }

    private readonly Dictionary<OverlayLayers, Mat> _views = [];

    /// <summary>The layers drawn on <see cref="Streaming.Frame.Image"/> itself.</summary>
    public OverlayLayers MainLayers { get; internal set; } = OverlayLayers.All;

    /// <summary>The rendered picture with <paramref name="layers"/> drawn (the frame owns it).</summary>
    public Mat ImageFor(OverlayLayers layers) => layers == MainLayers || !_views.TryGetValue(layers, out var view) ? Frame.Image : view;

    // Another output's rendering of the same frame; disposed with it.
    internal void AddView(OverlayLayers layers, Mat view)
    {
        if (_views.Remove(layers, out var old)) old.Dispose();
        _views[layers] = view;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var view in _views.Values) view.Dispose();
        _views.Clear();
        Frame.Dispose();
    }
}
