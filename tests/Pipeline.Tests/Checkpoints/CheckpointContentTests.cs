using System.Text;
using StreamAnalyzer.Pipeline.Checkpoints;
using StreamAnalyzer.Pipeline.Model;
using static TorchSharp.torch;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Pipeline.Tests.Checkpoints;

/// <summary>What the reader recovers from official-format files, checked against what upstream wrote into them.</summary>
public class CheckpointContentTests
{
    [SkippableFact]
    public void TrainingCheckpointWithNumpyObjectsLoadsWithoutRunningThem()
    {
        // Written by upstream training: best_fitness etc. are pickled numpy objects, which must be skipped as data.
        var ckpt = YoloCheckpoint.Load(Fixtures.ShapesModel);
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
        var ckpt = YoloCheckpoint.Load(Fixtures.Yolov8ShapesModel);
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

    [SkippableFact]
    public void TheRecordsTorch2AddsToTheArchiveAreAcceptedAndABigEndianOneIsRefused()
    {
        using var dir = new TempDirectory();
        var torch2 = dir.File("torch2.pt");
        var extra = new Dictionary<string, byte[]> { ["byteorder"] = "little"u8.ToArray(), [".data/serialization_id"] = "1234567890"u8.ToArray() };
        CheckpointSurgery.Rewrite(Fixtures.Require("ultralytics", "yolov8n-random.pt"), torch2, (_, data) => data, extra);
        Assert.Equal("ultralytics", YoloCheckpoint.Load(torch2).Profile.Family);

        var bigEndian = dir.File("big.pt");
        CheckpointSurgery.Rewrite(Fixtures.Require("ultralytics", "yolov8n-random.pt"), bigEndian, (_, data) => data,
            new Dictionary<string, byte[]> { ["byteorder"] = "big"u8.ToArray() });
        Assert.Contains("big-endian", Assert.Throws<CheckpointException>(() => YoloCheckpoint.Load(bigEndian)).Message);
    }

    [SkippableFact]
    public void Ultralytics80FilesNamingModulesWithoutTheirSubmoduleLoadAsTheSameNetwork()
    {
        // ultralytics 8.0.x kept every module in ultralytics/nn/modules.py: its files name 'ultralytics.nn.modules.C2f'.
        using var dir = new TempDirectory();
        var legacy = dir.File("legacy.pt");
        var source = Fixtures.Require("ultralytics", "yolov8n-random.pt");
        CheckpointSurgery.Rewrite(source, legacy, (name, data) =>
        {
            if (!name.EndsWith("data.pkl")) return data;
            foreach (var (module, cls) in new[] { ("conv", "Conv"), ("block", "C2f"), ("block", "SPPF"), ("block", "DFL"), ("head", "Detect") })
                data = CheckpointSurgery.ReplaceFirst(data, Encoding.ASCII.GetBytes($"cultralytics.nn.modules.{module}\n{cls}\n"),
                    Encoding.ASCII.GetBytes($"cultralytics.nn.modules\n{cls}\n"));
            return data;
        });
        using var current = YoloModel.Load(source);
        using var old = YoloModel.Load(legacy);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = rand(1, 3, 128, 160);
        Assert.Equal(0f, (current.forward(x) - old.forward(x)).abs().max().item<float>());
    }
}
