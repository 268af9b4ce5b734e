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
/// interior cells of each level and one on a corner cell (a window cut by the map's edge) go through both ways of taking
/// windows' gradients: the managed window program (float32 on the CPU), which takes them all at once, and libtorch's
/// autograd (CUDA and half precision take it), which stacks the interior ones and does the corner one on its own.
/// </summary>
public class WindowGradientFamilyTests
{
    public static TheoryData<string, string, string, string, bool> Cases()
    {
        var data = new TheoryData<string, string, string, string, bool>();
        foreach (var (folder, name) in new[] { ("yolov5", "yolov5n-random"), ("ultralytics", "yolov8n-random"), ("ultralytics", "yolo11n-random") })
            foreach (var (method, layers) in new[] { ("odam", "neck"), ("gradcam", "auto"), ("layercam", "neck"), ("gradcampp", "neck") })
                data.Add($"{folder}/{name}__bus_320", method, layers, "logit", true);
        // The other targets' closed-form gradients (with and without objectness), and YOLOv7's heads: IDetect fused, and
        // unfused with its implicit add and multiply around the 1x1 convolution.
        data.Add("yolov5/yolov5n-random__bus_320", "odam", "neck", "conf", true);
        data.Add("yolov5/yolov5n-random__bus_320", "gradcam", "auto", "prob", true);
        data.Add("ultralytics/yolov8n-random__bus_320", "odam", "neck", "conf", true);
        data.Add("ultralytics/yolov8n-random__bus_320", "hirescam", "auto", "prob", true);
        data.Add("yolov7/yolov7-tiny-random__bus_320", "odam", "neck", "logit", true);
        data.Add("yolov7/yolov7-tiny-random__bus_320", "gradcam", "auto", "conf", true);
        data.Add("yolov7/yolov7-w25-training-random__image1_256", "gradcam", "auto", "conf", false);
        data.Add("yolov7/yolov7-w25-deploy-random__horses_320", "odam", "neck", "logit", true);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void WindowsGiveTheMapsOfTheWholeGraph(string checkpoint, string method, string layers, string target, bool fuse)
    {
        var parts = checkpoint.Split('/');
        string name = parts[1][..parts[1].IndexOf("__", StringComparison.Ordinal)];
        using var model = YoloModel.Load(Fixtures.Require(parts[0], name + ".pt"), fuse);
        var input = NpyArray.Read(Fixtures.Require(parts[0], parts[1] + ".input.npy"));
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

        CamExplainer Explainer(bool whole, bool torchWindows = false) => new(model, CamMethod.Parse(method), CamTarget.Parse(target), LayerSelection.Parse(layers, model))
        {
            WholeGraphGradients = whole,
            TorchWindowGradients = torchWindows,
        };
        var reference = Explainer(whole: true).Explain(x, detections);
        var managed = Explainer(whole: false).Explain(x, detections);
        var torchWindows = Explainer(whole: false, torchWindows: true).Explain(x, detections);
        Assert.Equal(detections.Count, managed.Count);
        MapAssert.SameMaps(managed, reference, a => $"{checkpoint} {method} at {layers}, {target}, row {a.Detection.Row}, window program");
        MapAssert.SameMaps(torchWindows, reference, a => $"{checkpoint} {method} at {layers}, {target}, row {a.Detection.Row}, libtorch's windows");
    }
}
