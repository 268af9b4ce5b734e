using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Explainers.Methods;
using StreamAnalyzer.Pipeline.Explainers.Targets;
using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Numpy;
using StreamAnalyzer.Pipeline.Tests.Support;
using static TorchSharp.torch;
using DetectionBox = StreamAnalyzer.Pipeline.Detection.Detection;

namespace StreamAnalyzer.Pipeline.Tests.Explainers;

/// <summary>
/// Gradients taken on windows around each detection's cell - where the neck's blocks (YOLOv5's C3, YOLOv8's C2f,
/// YOLO11's C3k2 with C3k inside) and the head run on the window without their padding - give the same maps as a
/// backward pass through the whole recorded graph, for every family's upstream checkpoint. Two detections on
/// interior cells of each level make the stacked path run; one on a corner cell makes the one-by-one path (a window
/// cut by the map's edge) run.
/// </summary>
public class WindowGradientFamilyTests
{
    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var (folder, name) in new[] { ("yolov5", "yolov5n-random"), ("ultralytics", "yolov8n-random"), ("ultralytics", "yolo11n-random") })
            foreach (var (method, layers) in new[] { ("odam", "neck"), ("gradcam", "auto"), ("layercam", "neck"), ("gradcampp", "neck") })
                data.Add($"{folder}/{name}", method, layers);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void WindowsGiveTheMapsOfTheWholeGraph(string checkpoint, string method, string layers)
    {
        var parts = checkpoint.Split('/');
        using var model = YoloModel.Load(Fixtures.Require(parts[0], parts[1] + ".pt"));
        var input = NpyArray.Read(Fixtures.Require(parts[0], parts[1] + "__bus_320.input.npy"));
        using var scope = NewDisposeScope();
        var x = tensor(input.Data, input.Shape);
        int height = (int)input.Shape[2], width = (int)input.Shape[3];

        var detections = new List<DetectionBox>();
        int offset = 0;
        for (int level = 0; level < model.Layout.NumLevels; level++)
        {
            int stride = (int)model.Layout.Strides[level], ny = height / stride, nx = width / stride;
            foreach (var (gy, gx) in new[] { (ny / 2, nx / 2), (ny / 2 + 1, nx / 2 - 1), (0, nx - 1) })
            {
                int row = offset + gy * nx + gx; // anchor 0
                var box = new BoxF(gx * stride, gy * stride, (gx + 1) * stride, (gy + 1) * stride);
                detections.Add(new DetectionBox(box, box, detections.Count % model.Layout.NumClasses, "", 0.5f, row));
            }
            offset += model.Layout.AnchorsPerCell * ny * nx;
        }

        CamExplainer Explainer(bool whole) => new(model, CamMethod.Parse(method), new ClassLogitTarget(), LayerSelection.Parse(layers, model))
        {
            WholeGraphGradients = whole,
        };
        var windowed = Explainer(false).Explain(x, detections);
        var reference = Explainer(true).Explain(x, detections);
        Assert.Equal(detections.Count, windowed.Count);
        MapAssert.SameMaps(windowed, reference, a => $"{checkpoint} {method} at {layers}, row {a.Detection.Row}");
    }
}
