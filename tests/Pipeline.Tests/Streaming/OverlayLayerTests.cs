using OpenCvSharp;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Explainers.Methods;
using StreamAnalyzer.Pipeline.Explainers.Targets;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Rendering;
using StreamAnalyzer.Pipeline.Sources;
using StreamAnalyzer.Pipeline.Streaming;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Pipeline.Tests.Streaming;

/// <summary>Each output gets the layers it asks for: one records without the heatmap while another shows it.</summary>
public class OverlayLayerTests
{
    private sealed class CapturingSink(OverlayLayers layers, Action? afterWrite = null) : IFrameSink
    {
        public OverlayLayers Layers => layers;

        public List<(bool Explained, int Detections, Mat Image)> Frames { get; } = [];

        public void Write(AnalyzedFrame frame)
        {
            Frames.Add((frame.Explained, frame.Result.Detections.Count, frame.ImageFor(Layers).Clone()));
            afterWrite?.Invoke();
        }

        public void CompleteSource(int source) { }

        public void Dispose() { }
    }

    private static int Differing(Mat a, Mat b)
    {
        using var diff = new Mat();
        Cv2.Absdiff(a, b, diff);
        using var gray = diff.CvtColor(ColorConversionCodes.BGR2GRAY);
        return Cv2.CountNonZero(gray);
    }

    [SkippableFact]
    public async Task AnOutputWithoutTheHeatmapLayerGetsTheSameFrameWithoutIt()
    {
        using var detector = Detector.Load(Fixtures.ShapesModel, new DetectorOptions(320));
        using var stop = new CancellationTokenSource();
        var plain = new CapturingSink(OverlayLayers.Boxes | OverlayLayers.Status);
        var full = new CapturingSink(OverlayLayers.All, () => { if (plain.Frames.Count >= 12) stop.Cancel(); });
        var options = new PipelineOptions { Workers = 1, CamEvery = 3, CamHold = false, Overlay = false };
        var pipeline = new AnalysisPipeline(detector, new CamExplainer(detector.Model, new GradCam(),
            new ClassLogitTarget(), LayerSelection.Auto), options);
        await pipeline.RunAsync([new SourceCatalog.Entry("demo", () => new VideoFileSource(Fixtures.DemoClip))], [plain, full], stop.Token);

        Assert.True(full.Frames.Count >= 12);
        try
        {
            foreach (var ((explained, detections, withMap), (_, _, without)) in full.Frames.Zip(plain.Frames))
            {
                if (explained && detections > 0)
                    Assert.True(Differing(withMap, without) > 500, "an explained frame shows its heatmap only where asked");
                else
                    Assert.Equal(0, Differing(withMap, without)); // no map: the two renderings are the same picture
            }
            Assert.Contains(full.Frames, f => f.Explained && f.Detections > 0);
        }
        finally
        {
            foreach (var f in full.Frames.Concat(plain.Frames)) f.Image.Dispose();
        }
    }
}
