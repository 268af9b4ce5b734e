using StreamAnalyzer.Pipeline.Checkpoints;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Pipeline.Tests.Checkpoints;

/// <summary>What the reader recovers from official-format files, checked against what upstream wrote into them.</summary>
public class CheckpointContentTests
{
    [SkippableFact]
    public void TrainingCheckpointWithNumpyObjectsLoadsWithoutRunningThem()
    {
        // Written by upstream training: best_fitness etc. are pickled numpy objects, which must be skipped as data.
        var ckpt = YoloCheckpoint.Load(Fixtures.Require("shapes", "yolov7-tiny-shapes.pt"));
        Assert.Equal(["circle", "square", "triangle"], ckpt.Names);
        Assert.Equal([8f, 16f, 32f], ckpt.Strides);
        Assert.Equal(3L, ckpt.Yaml["nc"]);
        Assert.True(ckpt.State.ContainsKey("model.77.ia.0.implicit"));
        Assert.True(ckpt.State.ContainsKey("model.0.bn.running_mean"));
    }

    [SkippableFact]
    public void DeployCheckpointKeepsRepConvBranchesAndFp16Storages()
    {
        var ckpt = YoloCheckpoint.Load(Fixtures.Require("yolov7", "yolov7-w25-deploy-random.pt"));
        Assert.Contains(ckpt.State.Keys, k => k.Contains(".rbr_dense.0.weight"));
        Assert.Contains(ckpt.State.Values, t => t.Storage.DType == StorageDType.Float16);
        Assert.Contains(ckpt.State.Values, t => t.Storage.DType == StorageDType.Int64); // num_batches_tracked
        Assert.Equal(0.001, ckpt.Root.Find("model.0.bn")!.Double("eps"));
    }

    [SkippableTheory]
    [InlineData("yolov7", "yolov7-tiny-random.pt", "yolov7", "models.yolo.Model")]
    [InlineData("yolov5", "yolov5n-random.pt", "yolov5", "models.yolo.DetectionModel")]
    [InlineData("yolov5", "yolov5n6-random.pt", "yolov5", "models.yolo.DetectionModel")]
    [InlineData("ultralytics", "yolov8n-random.pt", "ultralytics", "ultralytics.nn.tasks.DetectionModel")]
    [InlineData("ultralytics", "yolo11n-random.pt", "ultralytics", "ultralytics.nn.tasks.DetectionModel")]
    public void TheFamilyIsRecognisedFromTheCheckpointItself(string folder, string file, string family, string modelClass)
    {
        var ckpt = YoloCheckpoint.Load(Fixtures.Require(folder, file));
        Assert.Equal(family, ckpt.Profile.Family);
        Assert.Equal(modelClass, ckpt.Root.Type.FullName);
        Assert.Equal(80, ckpt.Names.Count);
        Assert.Equal("model", ckpt.ModelSource);
        // Released files hold fp16 weights (upstream strip_optimizer).
        Assert.Contains(ckpt.State.Values, t => t.Storage.DType == StorageDType.Float16);
    }

    [SkippableFact]
    public void UltralyticsClassNamesComeFromTheNamesDictAndStridesFromTheModel()
    {
        var ckpt = YoloCheckpoint.Load(Fixtures.Require("ultralytics", "yolov8n-shapes.pt"));
        Assert.Equal(["circle", "square", "triangle"], ckpt.Names);
        Assert.Equal([8f, 16f, 32f], ckpt.Strides);
        Assert.Equal(16L, ckpt.Root.Find("model.22")!.Long("reg_max"));
    }

    [SkippableTheory]
    [InlineData("yolov5", "yolov5n-random.pt")]
    [InlineData("ultralytics", "yolo11n-random.pt")]
    public void ANetworkSavedAsEmaIsTakenFromThere(string folder, string file)
    {
        // Training checkpoints keep the averaged weights under 'ema' (and the raw ones under 'model', here absent).
        using var dir = new TempDirectory();
        var path = dir.File("ema.pt");
        CheckpointSurgery.Rewrite(Fixtures.Require(folder, file), path, (name, data) => name.EndsWith("data.pkl")
            ? CheckpointSurgery.ReplaceFirst(CheckpointSurgery.ReplaceFirst(data, CheckpointSurgery.BinUnicode("ema"), CheckpointSurgery.BinUnicode("xyz")),
                CheckpointSurgery.BinUnicode("model"), CheckpointSurgery.BinUnicode("ema"))
            : data);
        var ckpt = YoloCheckpoint.Load(path);
        Assert.Equal("ema", ckpt.ModelSource);
        Assert.Equal(folder, ckpt.Profile.Family);
    }
}
