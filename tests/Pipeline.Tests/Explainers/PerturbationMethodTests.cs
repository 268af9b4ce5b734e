using OpenCvSharp;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Explainers.Faithfulness;
using StreamAnalyzer.Pipeline.Explainers.Methods;
using StreamAnalyzer.Pipeline.Explainers.Perturbation;
using StreamAnalyzer.Pipeline.Explainers.Targets;
using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Tests.Support;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Tests.Explainers;

/// <summary>
/// The perturbation methods (Score-CAM, D-RISE, LIME) and the faithfulness scores, on both families' trained shapes
/// models: each method finds what it claims to find, beats a random map where it claims to, is reproducible from
/// its seed, and depends on the model's head.
/// </summary>
public class PerturbationMethodTests(ITestOutputHelper output)
{
    public static TheoryData<string> Models() => new() { "yolov7-tiny-shapes.pt", "yolov8n-shapes.pt" };

    private static Detector Load(string checkpoint) =>
        new(YoloModel.Load(Fixtures.Shipped("models", checkpoint)), new DetectorOptions(320, new NmsOptions(0.45f)), ownsModel: true);

    private static readonly string[] Images = ["val-00000.jpg", "val-00003.jpg", "val-00006.jpg"];

    private static CamExplainer Explainer(Detector detector, string method, PerturbationOptions? options = null, string layers = "auto") =>
        new(detector.Model, CamMethod.Parse(method), new ClassLogitTarget(), LayerSelection.Parse(layers, detector.Model),
            options ?? new PerturbationOptions(Seed: 1, Samples: method switch { "drise" => 200, "lime" => 100, _ => 0 }));

    // The letterboxed input of an image and its top detections.
    private static (Tensor Input, Pipeline.Detection.Detection[] Detections) Prepare(Detector detector, string image, int topK = 3)
    {
        using var frame = Cv2.ImRead(Fixtures.Require("shapes", "images", image));
        var detections = detector.Detect(frame).Detections.Take(topK).ToArray();
        var (letterboxed, _) = Letterbox.Apply(frame, detector.LetterboxSettings);
        using var _ = letterboxed;
        return (InputTensor.FromImages([letterboxed], CPU), detections);
    }

    [SkippableTheory]
    [MemberData(nameof(Models))]
    public void DRiseFindsTheDetectedObject(string checkpoint)
    {
        using var detector = Load(checkpoint);
        var masses = new List<double>();
        foreach (var image in Images)
        {
            using var scope = NewDisposeScope();
            var (input, detections) = Prepare(detector, image);
            var maps = Explainer(detector, "drise").Explain(input, detections);
            foreach (var e in maps)
            {
                Assert.Equal("input", e.Maps[0].Layer);
                Assert.False(e.Maps[0].IsConstant);
                double mass = e.Maps[0].MassInside(e.Detection.InputBox);
                double share = e.Detection.InputBox.Area / (input.shape[2] * input.shape[3]);
                output.WriteLine($"{checkpoint} {image} {e.Detection.ClassName}: D-RISE mass in box {mass:F3} (box is {share:P1} of the image)");
                masses.Add(mass);
            }
        }
        Assert.True(masses.Count >= 6);
        Assert.True(masses.Average() >= 0.6, $"D-RISE: mean mass in box {masses.Average():F3} < 0.6");
    }

    [SkippableTheory]
    [MemberData(nameof(Models))]
    public void InstanceSpecificMapsBeatARandomMapOnDeletion(string checkpoint)
    {
        using var detector = Load(checkpoint);
        var evaluator = new FaithfulnessEvaluator(detector.Model, new PerturbationOptions(Seed: 3), steps: 10, detector.OnnxRuntime);
        var deletion = new Dictionary<string, List<double>>();
        foreach (var image in Images)
        {
            using var scope = NewDisposeScope();
            var (input, detections) = Prepare(detector, image, topK: 2);
            foreach (var (method, layers) in new[] { ("odam", "neck"), ("drise", "auto") })
            {
                foreach (var e in Explainer(detector, method, layers: layers).Explain(input, detections))
                {
                    var score = evaluator.Evaluate(input[0], e.Detection, e.Maps[0].Values);
                    Record(deletion, $"{method} at {layers}", score.DeletionAuc);
                }
            }
            foreach (var d in detections)
            {
                var random = evaluator.Evaluate(input[0], d, FaithfulnessEvaluator.RandomMap((int)input.shape[2], (int)input.shape[3], 5));
                Record(deletion, "random", random.DeletionAuc);
            }
        }
        foreach (var (method, values) in deletion) output.WriteLine($"{checkpoint} {method}: mean deletion AUC {values.Average():F3} over {values.Count} maps");
        foreach (var method in new[] { "odam at neck", "drise at auto" })
            Assert.True(deletion[method].Average() < deletion["random"].Average(),
                $"{method}: deletion AUC {deletion[method].Average():F3} is not below the random map's {deletion["random"].Average():F3}");
    }

    private static void Record(Dictionary<string, List<double>> into, string key, double value)
    {
        Assert.InRange(value, 0, 1);
        if (!into.TryGetValue(key, out var list)) into[key] = list = [];
        list.Add(value);
    }

    [SkippableTheory]
    [InlineData("drise")]
    [InlineData("lime")]
    public void TheSameSeedGivesTheSameMapsAndAnotherSeedOthers(string method)
    {
        using var detector = Load("yolov7-tiny-shapes.pt");
        using var scope = NewDisposeScope();
        var (input, detections) = Prepare(detector, "val-00000.jpg", topK: 2);
        float[] Map(int seed) => Explainer(detector, method, new PerturbationOptions(Seed: seed, Samples: 64, BatchSize: 8)).Explain(input, detections)[0].Maps[0].Values;
        var first = Map(11);
        Assert.Equal(first, Map(11));
        Assert.NotEqual(first, Map(12));
    }

    [SkippableTheory]
    [InlineData("scorecam")]
    [InlineData("drise")]
    [InlineData("lime")]
    public void RandomisingTheHeadChangesPerturbationMaps(string method)
    {
        using var detector = Load("yolov7-tiny-shapes.pt");
        using var randomised = Load("yolov7-tiny-shapes.pt");
        HeadWeights.Randomise(randomised.Model, 7);
        using var scope = NewDisposeScope();
        var (input, detections) = Prepare(detector, "val-00000.jpg", topK: 2);
        var options = new PerturbationOptions(Seed: 2, Samples: method == "scorecam" ? 0 : 150);
        var original = Explainer(detector, method, options).Explain(input, detections);
        var changed = Explainer(randomised, method, options).Explain(input, detections);
        var correlations = original.Zip(changed)
            .Select(p => p.Second.Maps[0].IsConstant ? 0 : ReferenceCamParityTests.Pearson(p.First.Maps[0].Values, p.Second.Maps[0].Values))
            .Select(r => double.IsNaN(r) ? 0 : r).ToArray();
        output.WriteLine($"{method}, head randomised: correlation {string.Join(", ", correlations.Select(r => r.ToString("F2")))}");
        Assert.All(original, e => Assert.False(e.Maps[0].IsConstant));
        Assert.True(correlations.Average() < 0.5, $"{method}: mean correlation {correlations.Average():F2} after randomising the head");
    }

    [SkippableFact]
    public void TheDeletionCurveStartsAtTheDetectionsScoreAndEndsAtNothing()
    {
        using var detector = Load("yolov7-tiny-shapes.pt");
        using var scope = NewDisposeScope();
        var (input, detections) = Prepare(detector, "val-00000.jpg", topK: 1);
        var d = detections[0];
        var evaluator = new FaithfulnessEvaluator(detector.Model, new PerturbationOptions(Seed: 1), steps: 4, detector.OnnxRuntime);
        var score = evaluator.Evaluate(input[0], d, FaithfulnessEvaluator.RandomMap(320, 320, 1));
        Assert.Equal(5, score.Deletion.Count);
        // Nothing deleted: the detection itself, re-found with its own confidence.
        Assert.Equal(d.Confidence, score.Deletion[0], 3);
        // Everything deleted (a flat image) and nothing inserted (the blurred image) leave no such detection.
        Assert.True(score.Deletion[^1] < 0.05, $"score with every pixel deleted: {score.Deletion[^1]}");
        Assert.Equal(d.Confidence, score.Insertion[^1], 3);
        double trapezoid = (score.Deletion[0] / 2 + score.Deletion[1] + score.Deletion[2] + score.Deletion[3] + score.Deletion[4] / 2) / 4;
        Assert.Equal(trapezoid, score.DeletionAuc, 6);
    }
}
