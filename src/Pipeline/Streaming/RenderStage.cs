using System.Diagnostics;
using System.Globalization;
using System.Threading.Channels;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Rendering;

namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>
/// Draws on each frame: the heatmap of the top-K explanations (held between explained frames with
/// <c>--cam-hold</c>), boxes and labels, and an fps/latency overlay. Computes each explained detection's map statistics.
/// </summary>
public sealed class RenderStage(PipelineOptions options, PipelineStatistics statistics)
{
    private readonly Dictionary<int, Mat> _held = [];

    /// <summary>Runs until the input completes, then completes <paramref name="output"/>.</summary>
    public async Task RunAsync(ChannelReader<AnalyzedFrame> input, ChannelWriter<AnalyzedFrame> output, CancellationToken abort)
    {
        try
        {
            await StageCompletion.RunAsync(output, async () =>
            {
                await foreach (var frame in input.ReadAllAsync(abort).ConfigureAwait(false))
                {
                    try
                    {
                        Render(frame);
                        await output.WriteAsync(frame, abort).ConfigureAwait(false);
                    }
                    catch
                    {
                        frame.Dispose();
                        throw;
                    }
                }
            }).ConfigureAwait(false);
        }
        finally
        {
            foreach (var m in _held.Values) m.Dispose();
            _held.Clear();
        }
    }

    /// <summary>Draws on <paramref name="frame"/> in place.</summary>
    public void Render(AnalyzedFrame frame)
    {
        var clock = Stopwatch.StartNew();
        var image = frame.Frame.Image;
        var geometry = frame.Result.Geometry;
        int source = frame.Frame.SourceIndex;
        if (frame.Explained)
        {
            var explanations = frame.Result.Explanations ?? [];
            frame.MapStatistics = explanations.Select(e =>
            {
                var map = e.Maps[0];
                var (px, py) = map.Peak();
                var (sx, sy) = geometry.PointToSource(px, py);
                return new MapStatistics(sx, sy, map.MassInside(e.Detection.InputBox), map.Layer, frame.Controls.Method, map.Faithfulness);
            }).ToArray();
            if (_held.Remove(source, out var old)) old.Dispose();
            // The top-K maps are combined (element-wise maximum) at the input's resolution, then mapped onto the frame once.
            if (explanations.Count > 0) _held[source] = FrameMaps.ToFrame(CamMap.Max(explanations.Select(e => e.Maps[0]).ToArray()), geometry);
        }
        bool useMap = frame.Explained || options.CamHold;
        var heat = useMap && frame.Controls.Heatmap && _held.TryGetValue(source, out var h) && h.Size() == image.Size() ? h : null;

        // The layer set most outputs want is drawn on the frame itself; any other set on a copy of the clean picture.
        var wanted = Layers?.Invoke() is { Count: > 0 } sets ? sets : [OverlayLayers.All];
        var main = wanted.GroupBy(l => l).OrderByDescending(g => g.Count()).First().Key;
        foreach (var layers in wanted.Distinct().Where(l => l != main))
            frame.AddView(layers, Draw(image.Clone(), ownsImage: true, frame, heat, layers));
        var drawn = Draw(image, ownsImage: false, frame, heat, main);
        if (drawn != image) frame.Frame.ReplaceImage(drawn);
        frame.MainLayers = main;
        if (!options.CamHold && !frame.Explained && _held.Remove(source, out var stale)) stale.Dispose();
        frame.RenderMs = clock.Elapsed.TotalMilliseconds;
    }

    /// <summary>The layer sets the outputs want, asked for every frame (the pipeline passes its sinks').</summary>
    public Func<IReadOnlyList<OverlayLayers>>? Layers { get; set; }

    // Draws `layers` on `image`; returns it, or the wider side-by-side picture (then `image` is disposed if owned here).
    private Mat Draw(Mat image, bool ownsImage, AnalyzedFrame frame, Mat? heat, OverlayLayers layers)
    {
        if (!layers.HasFlag(OverlayLayers.Heatmap)) heat = null;
        Mat? panel = options.SideBySide ? HeatPanel(image, heat) : null;
        if (heat is not null && !options.SideBySide)
        {
            HeatmapRenderer.Blend(image, heat, frame.Controls.Alpha);
            HeatmapRenderer.DrawScale(image);
        }
        if (layers.HasFlag(OverlayLayers.Boxes)) DetectionRenderer.Draw(image, frame.Result.Detections);
        if (panel is not null)
        {
            using (panel)
            {
                var both = new Mat();
                Cv2.HConcat([image, panel], both);
                if (ownsImage) image.Dispose();
                image = both;
            }
        }
        if (options.Overlay && layers.HasFlag(OverlayLayers.Status)) DrawOverlay(image, frame);
        return image;
    }

    // The right half of the side-by-side view: the map in full colour where it is hot, over a dimmed grey copy of the
    // frame (so the map can be located in the scene), and the colour scale.
    private static Mat HeatPanel(Mat image, Mat? heat)
    {
        using var gray = new Mat();
        Cv2.CvtColor(image, gray, ColorConversionCodes.BGR2GRAY);
        var panel = new Mat();
        Cv2.CvtColor(gray, panel, ColorConversionCodes.GRAY2BGR);
        panel.ConvertTo(panel, -1, 0.5);
        if (heat is not null) HeatmapRenderer.Blend(panel, heat, 1.0);
        HeatmapRenderer.DrawScale(panel);
        return panel;
    }

    private void DrawOverlay(Mat image, AnalyzedFrame frame)
    {
        // This stream's own numbers: with several streams the run's totals would say little about any one of them.
        var counters = statistics.For(frame.Frame.SourceIndex);
        double fps = counters.RecentFps > 0 ? counters.RecentFps : statistics.Fps;
        string text = string.Format(CultureInfo.InvariantCulture, "{0:0.0} fps  latency {1:0} ms  frame {2}{3}",
            fps, frame.Frame.AgeMs, frame.Frame.Index, counters.Dropped > 0 ? $"  dropped {counters.Dropped}" : "");
        if (frame.Explained) text += "  [explained]";
        // --cam-faithfulness: the explained detections' mean deletion (lower is better) and insertion AUC.
        var scored = frame.MapStatistics?.Where(m => m.Faithfulness is not null).Select(m => m.Faithfulness!).ToArray() ?? [];
        if (scored.Length > 0)
            text += string.Format(CultureInfo.InvariantCulture, "  del {0:0.00} ins {1:0.00}", scored.Average(f => f.DeletionAuc), scored.Average(f => f.InsertionAuc));
        double scale = Math.Max(0.4, image.Height / 900.0);
        var size = Cv2.GetTextSize(text, HersheyFonts.HersheySimplex, scale, 1, out int baseline);
        Cv2.Rectangle(image, new Rect(0, 0, size.Width + 8, size.Height + baseline + 8), new Scalar(0, 0, 0), -1);
        Cv2.PutText(image, text, new Point(4, size.Height + 4), HersheyFonts.HersheySimplex, scale, new Scalar(255, 255, 255), 1, LineTypes.AntiAlias);
    }
}
