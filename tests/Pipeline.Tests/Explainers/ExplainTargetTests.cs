using OpenCvSharp;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Explainers.Methods;
using StreamAnalyzer.Pipeline.Explainers.Targets;
using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Tests.Support;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Tests.Explainers;

/// <summary>Layer and submodule targets, and that explaining leaves no tensor behind.</summary>
public class ExplainTargetTests
{
    [SkippableFact]
    public void TheActivationOfALayerIsTheLayerItselfAndItsConvolutionIsAnotherTarget()
    {
        using var detector = Detector.Load(Fixtures.ShapesModel, new DetectorOptions(320, new NmsOptions(0.45f)));
        using var frame = Cv2.ImRead(Fixtures.SampleImage("val-00000.jpg"));
        var selection = LayerSelection.Parse("75,75_act,75.conv", detector.Model);
        Assert.Equal(["75", "75.conv"], selection.Layers!.Select(t => t.Name));
        var explainer = new CamExplainer(detector.Model, new GradCam(), new ClassLogitTarget(), selection);

        var result = detector.Detect([frame], explainer, 3)[0];

        foreach (var e in result.Explanations!)
        {
            Assert.Equal(["75", "75.conv"], e.Maps.Select(m => m.Layer));
            Assert.All(e.Maps.SelectMany(m => m.Values), v => Assert.False(float.IsNaN(v)));
        }
        // The P4 detections have informative maps at both the conv output and the activation, and they differ.
        var p4 = result.Explanations!.Where(e => !e.Maps[0].IsConstant).ToArray();
        Assert.NotEmpty(p4);
        Assert.All(p4, e => Assert.False(e.Maps[1].IsConstant));
        Assert.Contains(p4, e => e.Maps[0].Values.Zip(e.Maps[1].Values).Any(p => Math.Abs(p.First - p.Second) > 1e-3));
    }

    [SkippableFact]
    public void ASubmoduleInsideABlockWithItsOwnDisposeScopeCanBeExplained()
    {
        // Layer 51 of the deploy yolov7 is SPPCSPC, whose forward opens its own dispose scope; 102 feeds P3.
        using var model = YoloModel.Load(Fixtures.Require("yolov7", "yolov7-w25-deploy-random.pt"), fuse: false);
        using var detector = new Detector(model, new DetectorOptions(320, new NmsOptions(0f)));
        using var frame = Cv2.ImRead(Fixtures.Require("yolov7", "horses.jpg"));
        // Random weights detect nothing meaningful: explain two prediction rows of the P3 level directly.
        var geometry = detector.Detect(frame).Geometry;
        var p3 = new[] { 1200, 2500 }.Select(row => new StreamAnalyzer.Pipeline.Detection.Detection(default, default, 0, "class0", 0.5f, row)).ToArray();
        Assert.All(p3, d => Assert.Equal(0, model.LevelOfRow(d.Row, geometry.InputHeight, geometry.InputWidth)));
        var explainer = new CamExplainer(model, new LayerCam(), new ConfidenceTarget(), LayerSelection.Parse("51.cv1,102.rbr_dense", model));

        var (letterboxed, _) = Letterbox.Apply(frame, detector.LetterboxSettings);
        using var _ = letterboxed;
        using var scope = NewDisposeScope();
        var explanations = explainer.Explain(InputTensor.FromImages([letterboxed], CPU), p3);

        Assert.All(explanations, e => Assert.Equal(["51.cv1", "102.rbr_dense"], e.Maps.Select(m => m.Layer)));
        Assert.All(explanations, e => Assert.All(e.Maps, m => Assert.False(m.IsConstant)));
    }

    [SkippableTheory]
    [InlineData("75.conv")]          // a TorchSharp Conv2d in the caller's dispose scope
    [InlineData("102.rbr_dense")]    // a TorchSharp Sequential
    [InlineData("102.rbr_1x1.0")]    // inside a Sequential, which disposes intermediate results
    [InlineData("51.cv1")]           // inside SPPCSPC, which opens its own dispose scope
    public void SubmoduleOutputsAreOwnedByTheCallersScopeAndNothingIsLeftToTheFinalizer(string target)
    {
        using var model = YoloModel.Load(Fixtures.Require("yolov7", "yolov7-w25-deploy-random.pt"), fuse: false);
        using var frame = Cv2.ImRead(Fixtures.Require("yolov7", "horses.jpg"));
        var (letterboxed, _) = Letterbox.Apply(frame, LetterboxOptions.Square(320, 32));
        using var _ = letterboxed;
        var detections = new[] { new StreamAnalyzer.Pipeline.Detection.Detection(default, default, 0, "class0", 0.5f, 1200) };
        var explainer = new CamExplainer(model, new LayerCam(), new ConfidenceTarget(), LayerSelection.Parse(target, model));

        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        using (NewDisposeScope()) explainer.Explain(InputTensor.FromImages([letterboxed], CPU), detections);
        // A tensor dropped from its scope's list would be finalized here, and TorchSharp's finalizer throws.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [SkippableFact]
    public void UnknownSubmodulesAreNamedWithWhatTheLayerHas()
    {
        using var model = YoloModel.Load(Fixtures.Require("yolov7", "yolov7-w25-deploy-random.pt"));
        var e = Assert.Throws<UserInputException>(() => LayerSelection.Parse("102.rbr_dense", model));
        Assert.Contains("layer 102 (RepConv) has no submodule 'rbr_dense'; it has act, rbr_reparam (fused;", e.Message);
    }

    [SkippableFact]
    public void DetectingAndExplainingFramesLeavesNoLiveTensors()
    {
        using var detector = Detector.Load(Fixtures.ShapesModel, new DetectorOptions(320, new NmsOptions(0.45f)));
        using var frame = Cv2.ImRead(Fixtures.SampleImage("val-00000.jpg"));
        var explainer = new CamExplainer(detector.Model, new Odam(), new ClassLogitTarget(), LayerSelection.Neck);
        detector.Detect([frame], explainer, 3);
        detector.Detect([frame]);

        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 3; i++)
        {
            detector.Detect([frame], explainer, 3);
            detector.Detect([frame, frame]);
        }
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [SkippableFact]
    public void APerLevelPartOfTheUltralyticsHeadExplainsItsOwnLevelOnly()
    {
        using var detector = Detector.Load(Fixtures.Yolov8ShapesModel, new DetectorOptions(320, new NmsOptions(0.45f)));
        using var frame = Cv2.ImRead(Fixtures.SampleImage("val-00000.jpg"));
        var explainer = new CamExplainer(detector.Model, new LayerCam(), new ClassLogitTarget(), LayerSelection.Parse("22.cv3.0,22.cv3.1.0", detector.Model));

        var result = detector.Detect([frame], explainer, 3)[0];

        Assert.Equal(3, result.Explanations!.Count);
        foreach (var e in result.Explanations)
        {
            int level = detector.Model.LevelOfRow(e.Detection.Row, result.Geometry.InputHeight, result.Geometry.InputWidth);
            Assert.Equal(0, level); // this model detects the shapes at P3
            Assert.Equal(["22.cv3.0", "22.cv3.1.0"], e.Maps.Select(m => m.Layer));
            Assert.False(e.Maps[0].IsConstant, "the P3 class branch explains a P3 detection");
            Assert.True(e.Maps[1].IsConstant, "the P4 class branch does not reach a P3 detection");
            Assert.All(e.Maps[1].Values, v => Assert.Equal(0f, v));
        }
    }

    [SkippableFact]
    public void TheHeadItselfOrAPartServingNoSingleLevelIsRefusedWithAnExample()
    {
        using var model = YoloModel.Load(Fixtures.Yolov8ShapesModel);
        var head = Assert.Throws<UserInputException>(() => LayerSelection.Parse("22", model));
        Assert.Contains("layer 22 is the detect head; name one of its per-level submodules, e.g. 22.cv2.0", head.Message);
        var dfl = Assert.Throws<UserInputException>(() => LayerSelection.Parse("22.dfl", model));
        Assert.Contains("'dfl' is not a per-level part of the detect head", dfl.Message);
        var beyond = Assert.Throws<UserInputException>(() => LayerSelection.Parse("23", model));
        Assert.Contains("not a layer index between 0 and 22", beyond.Message);
    }

    [SkippableFact]
    public void ExplainingAnUltralyticsModelLeavesNoLiveTensors()
    {
        using var detector = Detector.Load(Fixtures.Require("ultralytics", "yolo11n-random.pt"), new DetectorOptions(320, new NmsOptions(0f)));
        using var frame = Cv2.ImRead(Fixtures.Require("yolov7", "bus.jpg"));
        var explainer = new CamExplainer(detector.Model, new Odam(), new ClassLogitTarget(), LayerSelection.Neck);
        detector.Detect([frame], explainer, 2);

        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;
        for (int i = 0; i < 3; i++)
        {
            var explained = detector.Detect([frame], explainer, 2)[0];
            Assert.Equal(2, explained.Explanations!.Count);
            detector.Detect([frame, frame]);
        }
        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }
}
