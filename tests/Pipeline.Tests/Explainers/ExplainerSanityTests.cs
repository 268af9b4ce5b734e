using System.Text.Json;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Explainers.Methods;
using StreamAnalyzer.Pipeline.Explainers.Targets;
using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Numpy;
using StreamAnalyzer.Pipeline.Tests.Support;
using Xunit.Abstractions;
using static TorchSharp.torch;
using DetectionBox = StreamAnalyzer.Pipeline.Detection.Detection;

namespace StreamAnalyzer.Pipeline.Tests.Explainers;

/// <summary>
/// YOLOv7 against the reference GradCAM-on-YOLOv7 project: focus on the detected box at least that of the
/// reference's own maps, and explanations from the detector's forward pass equal to a separate one. (The sanity
/// properties every family shares are in <see cref="FamilySanityTests"/>.)
/// </summary>
public class ExplainerSanityTests(ITestOutputHelper output)
{
    private static string ModelPath => Fixtures.ShapesModel;

    private static JsonElement Manifest() =>
        JsonDocument.Parse(File.ReadAllText(Fixtures.Require("shapes", "cam", "manifest.json"))).RootElement;

    /// <summary>Our detections (conf 0.45, as the reference) on a fixture's stored input tensor.</summary>
    private static (Tensor Input, DetectionBox[] Detections) Detect(YoloModel model, string inputFile)
    {
        var array = NpyArray.Read(Fixtures.Require("shapes", "cam", inputFile));
        var x = tensor(array.Data, array.Shape);
        using var _ = no_grad();
        var kept = NonMaxSuppression.Run(model.forward(x), model.Layout, new NmsOptions(0.45f, 0.45f).WithDefaults(model.Family.Defaults))[0];
        return (x, kept.Select(c => new DetectionBox(c.Box, c.Box, c.ClassId, "", c.Score, c.Row)).ToArray());
    }

    [SkippableFact]
    public void MassInsideTheBoxIsAtLeastTheReferences()
    {
        using var model = YoloModel.Load(ModelPath);
        using var scope = NewDisposeScope();
        foreach (var method in new[] { "gradcam", "gradcampp" })
        {
            foreach (var layer in new[] { "74_act", "75_act", "76_act" })
            {
                var explainer = new CamExplainer(model, CamMethod.Parse(method), new ClassLogitTarget(), LayerSelection.Parse(layer, model));
                var ours = new List<double>();
                var reference = new List<double>();
                foreach (var image in Manifest().GetProperty("images").EnumerateArray())
                {
                    var (x, detections) = Detect(model, image.GetProperty("input").GetString()!);
                    var maps = image.GetProperty("maps").EnumerateArray().Single(m => m.GetProperty("method").GetString() == method && m.GetProperty("layer").GetString() == layer);
                    foreach (var want in maps.GetProperty("detections").EnumerateArray())
                    {
                        if (want.GetProperty("map_is_nan").GetBoolean()) continue;
                        var b = want.GetProperty("box_xyxy_input").EnumerateArray().Select(v => v.GetSingle()).ToArray();
                        var box = new BoxF(b[0], b[1], b[2], b[3]);
                        var refMap = NpyArray.Read(Fixtures.Require("shapes", "cam", want.GetProperty("map").GetString()!));
                        var shape = image.GetProperty("input_shape").EnumerateArray().Select(v => v.GetInt32()).ToArray();
                        reference.Add(new CamMap(layer, shape[3], shape[2], refMap.Data, false).MassInside(box));
                        var match = detections.Where(d => d.ClassId == want.GetProperty("class").GetInt32())
                            .OrderBy(d => Math.Abs(d.InputBox.X1 - b[0]) + Math.Abs(d.InputBox.Y1 - b[1])).First();
                        ours.Add(explainer.Explain(x, [match])[0].Maps[0].MassInside(box));
                    }
                }
                Assert.True(reference.Count > 0, $"{method} {layer}: no reference map to compare with");
                output.WriteLine($"{method} {layer}: mean mass in box ours {ours.Average():F3}, reference {reference.Average():F3} ({ours.Count} maps)");
                Assert.True(ours.Average() >= reference.Average() - 0.005, $"{method} {layer}: {ours.Average():F3} < reference {reference.Average():F3}");
            }
        }
    }

    [SkippableFact]
    public void ExplainingFromTheDetectorsForwardPassGivesTheSameMaps()
    {
        using var detector = Detector.Load(ModelPath, new DetectorOptions(320, new NmsOptions(0.45f)));
        using var frame = OpenCvSharp.Cv2.ImRead(Fixtures.SampleImage("val-00000.jpg"));
        var explainer = new CamExplainer(detector.Model, new GradCamPlusPlus(), new ClassLogitTarget(), LayerSelection.Auto);
        var shared = detector.Detect([frame], explainer, 3)[0];
        Assert.Equal(3, shared.Explanations!.Count);

        var (letterboxed, _) = Letterbox.Apply(frame, detector.LetterboxSettings);
        using var _ = letterboxed;
        using var scope = NewDisposeScope();
        var separate = explainer.Explain(InputTensor.FromImages([letterboxed], CPU), shared.Detections.Take(3).ToArray());
        foreach (var (a, b) in shared.Explanations.Zip(separate))
            Assert.True(a.Maps[0].Values.Zip(b.Maps[0].Values).Max(p => Math.Abs(p.First - p.Second)) < 1e-4);
    }
}
