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
/// Checks that would catch a wrong explainer (cam-reference.md, "Judging an explanation"): focus on the detected
/// box compared with the reference's own maps, sensitivity to the weights above the target layer, and instance
/// specificity on two objects of one class.
/// </summary>
public class ExplainerSanityTests(ITestOutputHelper output)
{
    private static string ModelPath => Fixtures.Require("shapes", "yolov7-tiny-shapes.pt");

    private static JsonElement Manifest() =>
        JsonDocument.Parse(File.ReadAllText(Fixtures.Require("shapes", "cam", "manifest.json"))).RootElement;

    /// <summary>Our detections (conf 0.45, as the reference) on a fixture's stored input tensor.</summary>
    private static (Tensor Input, DetectionBox[] Detections) Detect(YoloModel model, string inputFile)
    {
        var array = NpyArray.Read(Fixtures.Require("shapes", "cam", inputFile));
        var x = tensor(array.Data, array.Shape);
        using var _ = no_grad();
        var kept = NonMaxSuppression.Run(model.forward(x), new NmsOptions(0.45f, 0.45f))[0];
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
                if (reference.Count == 0) continue;
                output.WriteLine($"{method} {layer}: mean mass in box ours {ours.Average():F3}, reference {reference.Average():F3} ({ours.Count} maps)");
                Assert.True(ours.Average() >= reference.Average() - 0.005, $"{method} {layer}: {ours.Average():F3} < reference {reference.Average():F3}");
            }
        }
    }

    [SkippableFact]
    public void TheElementWiseMethodAtTheNeckKeepsMostOfItsMassInTheBox()
    {
        using var model = YoloModel.Load(ModelPath);
        using var scope = NewDisposeScope();
        var report = new Dictionary<string, List<double>>();
        foreach (var (method, layers) in new[] { ("odam", "neck"), ("hirescam", "neck"), ("layercam", "neck"), ("gradcam", "neck"), ("gradcam", "auto"), ("gradcampp", "auto"), ("eigencam", "auto") })
        {
            var explainer = new CamExplainer(model, CamMethod.Parse(method), new ClassLogitTarget(), LayerSelection.Parse(layers, model));
            var masses = new List<double>();
            foreach (var image in Manifest().GetProperty("images").EnumerateArray())
            {
                var (x, detections) = Detect(model, image.GetProperty("input").GetString()!);
                foreach (var e in explainer.Explain(x, detections)) masses.Add(e.Maps[0].MassInside(e.Detection.InputBox));
            }
            report[$"{method}@{layers}"] = masses;
            output.WriteLine($"{method} at {layers}: mean mass in box {masses.Average():F3} over {masses.Count} detections");
        }
        Assert.True(report["odam@neck"].Average() >= 0.5, $"odam at neck: {report["odam@neck"].Average():F3} < 0.5");
    }

    [SkippableFact]
    public void RandomisingTheLayersAboveTheTargetChangesTheMap()
    {
        // Channel-weight methods must change over the whole map. The element-wise map at the neck is only reported:
        // it stays where the architecture lets the detection's gradient reach (around its cell) whatever the
        // weights, and its within-box pattern changes only partly (about 0.4-0.5 mean correlation here), so it does
        // not pass this check robustly - a known property of gradient x activation maps (Adebayo et al. 2018).
        foreach (var (method, layers, randomise, asserted) in new[]
        {
            ("gradcam", "auto", new[] { "model.77." }, true),
            ("gradcampp", "auto", new[] { "model.77." }, true),
            ("odam", "neck", new[] { "model.74.", "model.75.", "model.76.", "model.77." }, false),
        })
        {
            using var model = YoloModel.Load(ModelPath);
            using var randomised = YoloModel.Load(ModelPath);
            manual_seed(7);
            using (no_grad())
            {
                foreach (var (name, p) in randomised.named_parameters())
                    if (randomise.Any(name.StartsWith)) p.copy_(randn_like(p) * p.std());
            }
            using var scope = NewDisposeScope();
            var image = Manifest().GetProperty("images")[0];
            var (x, detections) = Detect(model, image.GetProperty("input").GetString()!);
            var original = new CamExplainer(model, CamMethod.Parse(method), new ClassLogitTarget(), LayerSelection.Parse(layers, model)).Explain(x, detections);
            var changed = new CamExplainer(randomised, CamMethod.Parse(method), new ClassLogitTarget(), LayerSelection.Parse(layers, randomised)).Explain(x, detections);
            var correlations = original.Zip(changed).Select(p => ReferenceCamParityTests.Pearson(p.First.Maps[0].Values, p.Second.Maps[0].Values))
                .Select(r => double.IsNaN(r) ? 0 : r).ToArray();
            var inBox = original.Zip(changed).Select(p => InBoxCorrelation(p.First.Maps[0], p.Second.Maps[0], p.First.Detection.InputBox)).ToArray();
            output.WriteLine($"{method} at {layers}, layers {string.Join(" ", randomise)} randomised: correlation {string.Join(", ", correlations.Select(r => r.ToString("F2")))}; inside the box {string.Join(", ", inBox.Select(r => r.ToString("F2")))}");
            if (asserted)
                Assert.True(correlations.Average() < 0.5, $"{method} at {layers}: mean correlation {correlations.Average():F2} after randomisation");
        }
    }

    private static double InBoxCorrelation(CamMap a, CamMap b, BoxF box)
    {
        var idx = new List<int>();
        for (int y = Math.Max(0, (int)box.Y1); y < Math.Min(a.Height, (int)Math.Ceiling(box.Y2)); y++)
            for (int x = Math.Max(0, (int)box.X1); x < Math.Min(a.Width, (int)Math.Ceiling(box.X2)); x++) idx.Add(y * a.Width + x);
        double r = ReferenceCamParityTests.Pearson(idx.Select(i => a.Values[i]).ToArray(), idx.Select(i => b.Values[i]).ToArray());
        return double.IsNaN(r) ? 0 : r;
    }

    [SkippableFact]
    public void OnTwoObjectsOfOneClassEachMapFavoursItsOwnBox()
    {
        // val-00006 shows two circles.
        using var model = YoloModel.Load(ModelPath);
        using var scope = NewDisposeScope();
        var (x, detections) = Detect(model, "val-00006.input.npy");
        Assert.Equal(2, detections.Length);
        Assert.Equal(detections[0].ClassId, detections[1].ClassId);
        foreach (var method in new[] { "gradcam", "gradcampp", "xgradcam", "hirescam", "layercam", "eigencam", "odam" })
        {
            foreach (var layers in new[] { "auto", "neck" })
            {
                var explanations = new CamExplainer(model, CamMethod.Parse(method), new ClassLogitTarget(), LayerSelection.Parse(layers, model)).Explain(x, detections);
                var own = explanations.Select((e, i) => e.Maps[0].MassInside(detections[i].InputBox)).ToArray();
                var other = explanations.Select((e, i) => e.Maps[0].MassInside(detections[1 - i].InputBox)).ToArray();
                bool specific = own[0] > other[0] && own[1] > other[1];
                output.WriteLine($"{method,-9} at {layers}: own/other box mass det0 {own[0]:F2}/{other[0]:F2}, det1 {own[1]:F2}/{other[1]:F2} -> {(specific ? "instance-specific" : "not instance-specific")}");
                if (method == "odam" && layers == "neck") Assert.True(specific, "odam at neck must favour each detection's own box");
            }
        }
    }

    [SkippableFact]
    public void ExplainingFromTheDetectorsForwardPassGivesTheSameMaps()
    {
        using var detector = Detector.Load(ModelPath, new DetectorOptions(320, new NmsOptions(0.45f)));
        using var frame = OpenCvSharp.Cv2.ImRead(Fixtures.Require("shapes", "images", "val-00000.jpg"));
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
