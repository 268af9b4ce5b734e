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
}
