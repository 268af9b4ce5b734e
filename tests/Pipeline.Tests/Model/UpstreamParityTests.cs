using System.Text.Json;
using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Numpy;
using StreamAnalyzer.Pipeline.Tests.Support;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Tests.Model;

/// <summary>
/// Our network against the upstream PyTorch model's own outputs, for every family (../shared/fixtures/{yolov7,yolov5,
/// ultralytics}/manifest.json): same input tensor, same raw prediction - in the family's own output shape - within
/// 1e-4 on objectness/classes and 5e-3 px on boxes, fused and unfused.
/// </summary>
public class UpstreamParityTests
{
    private static readonly string[] FamilyFolders = ["yolov7", "yolov5", "ultralytics"];

    public static TheoryData<string, string, string, bool> Cases() => Manifest((folder, checkpoint, stem, data) =>
    {
        foreach (bool fuse in new[] { true, false }) data.Add(folder, checkpoint, stem, fuse);
    });

    private static TheoryData<string, string, string, bool> Manifest(Action<string, string, string, TheoryData<string, string, string, bool>> add)
    {
        var data = new TheoryData<string, string, string, bool>();
        foreach (var folder in FamilyFolders)
        {
            string manifest = Path.Combine(Fixtures.SharedRoot, folder, "manifest.json");
            if (!File.Exists(manifest))
            {
                // Keeps one case so the test reports the missing fixture (skip, or failure under CI).
                data.Add(folder, "missing-manifest", "", true);
                continue;
            }
            using var doc = JsonDocument.Parse(File.ReadAllText(manifest));
            foreach (var group in doc.RootElement.EnumerateArray())
                foreach (var c in group.GetProperty("cases").EnumerateArray())
                    add(folder, group.GetProperty("checkpoint").GetString()!, c.GetProperty("stem").GetString()!, data);
        }
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void RawPredictionMatchesUpstream(string folder, string checkpoint, string stem, bool fuse) =>
        AssertRunMatchesUpstream(folder, checkpoint, stem, fuse, (model, input) =>
        {
            Assert.Equal(folder, model.Family.Name);
            using var _ = no_grad();
            return model.forward(input);
        });

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void OnnxRuntimeOnTheGraphBuiltFromTheModelMatchesUpstream(string folder, string checkpoint, string stem, bool fuse) =>
        AssertRunMatchesUpstream(folder, checkpoint, stem, fuse, (model, input) =>
        {
            using var onnx = new StreamAnalyzer.Pipeline.Model.Onnx.OnnxRuntimeModel(model, threads: 2);
            return onnx.Run(input).Pred;
        });

    // Loads the checkpoint, runs the case's upstream input through `run` and compares with upstream's output.
    private static void AssertRunMatchesUpstream(string folder, string checkpoint, string stem, bool fuse, Func<YoloModel, Tensor, Tensor> run)
    {
        Fixtures.Require(folder, "manifest.json");
        var input = NpyArray.Read(Fixtures.Require(folder, stem + ".input.npy"));
        var expected = NpyArray.Read(Fixtures.Require(folder, stem + ".output.npy"));

        using var model = YoloModel.Load(Fixtures.Require(folder, checkpoint), fuse);
        using var scope = NewDisposeScope();
        var pred = model.ToUpstreamLayout(run(model, tensor(input.Data, input.Shape)));
        AssertMatches(expected, pred, model.Layout.UpstreamChannelsFirst);
    }

    private static void AssertMatches(NpyArray expected, Tensor pred, bool channelsFirst)
    {
        Assert.Equal(expected.Shape, pred.shape);
        var actual = pred.data<float>().ToArray();
        long rows = expected.Shape[1], columns = expected.Shape[2];
        double boxError = 0, scoreError = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            double diff = Math.Abs(actual[i] - expected.Data[i]);
            // (B, N, C) for YOLOv5/v7, (B, C, N) for Ultralytics: columns 0-3 are the box either way.
            long column = channelsFirst ? (i / columns) % rows : i % columns;
            if (column < 4) boxError = Math.Max(boxError, diff);
            else scoreError = Math.Max(scoreError, diff);
        }
        Assert.True(boxError <= 5e-3, $"max box difference {boxError:g4} px > 5e-3");
        Assert.True(scoreError <= 1e-4, $"max objectness/class difference {scoreError:g4} > 1e-4");
    }
}
