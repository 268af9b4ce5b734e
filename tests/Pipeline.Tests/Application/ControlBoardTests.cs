using OpenCvSharp;
using StreamAnalyzer.Pipeline.Application;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Sources;
using StreamAnalyzer.Pipeline.Streaming;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Pipeline.Tests.Application;

/// <summary>Live settings: validated before any stream sees them, per stream or for all, and picked up by a running pipeline.</summary>
public class ControlBoardTests
{
    private static readonly Lazy<YoloModel> Model = new(() => YoloModel.Load(Fixtures.ShapesModel));

    private static ControlBoard Board(int streams = 2, StreamControls? initial = null) =>
        new(initial ?? new StreamControls { CamEvery = 5 }, streams, Model.Value.Names.Count, new ExplainerCache(Model.Value).Get);

    [SkippableTheory]
    [InlineData("{\"top_k\": 0}", "top_k must be at least 1")]
    [InlineData("{\"cam_every\": -1}", "cam_every must be 0")]
    [InlineData("{\"conf\": 1.5}", "conf must be between 0 and 1")]
    [InlineData("{\"alpha\": -0.1}", "alpha must be between 0 and 1")]
    [InlineData("{\"classes\": [1, 3]}", "class 3 does not exist (the model has classes 0 to 2)")]
    [InlineData("{\"method\": \"smoothgrad\"}", "method 'smoothgrad': not a CAM method")]
    [InlineData("{\"target\": \"area\"}", "target 'area': not a target")]
    [InlineData("{\"layers\": \"999\"}", "'999': not a layer index")]
    [InlineData("{\"method\": \"odam\", \"layers\": \"999\"}", "'999': not a layer index")]
    public void ABadChangeIsRefusedWithItsReasonAndChangesNothing(string json, string reason)
    {
        var board = Board();
        var before = Enumerable.Range(0, 2).Select(board.For).Append(board.Defaults).ToArray();
        var patch = System.Text.Json.JsonSerializer.Deserialize<ControlPatch>(json)!;
        var all = Assert.Throws<UserInputException>(() => board.Apply(patch));
        Assert.Contains(reason, all.Message);
        Assert.Throws<UserInputException>(() => board.Apply(patch, 1));
        var after = Enumerable.Range(0, 2).Select(board.For).Append(board.Defaults).ToArray();
        Assert.Equal(before, after); // the same instances: nothing was swapped in
        Assert.All(before.Zip(after), p => Assert.Same(p.First, p.Second));
    }

    [SkippableFact]
    public void AChangeForOneStreamLeavesTheOthersAndAChangeForAllSetsOnlyTheFieldsItGives()
    {
        var board = Board(3);
        var one = board.Apply(new ControlPatch { Method = "ODAM", Layers = "neck", TopK = 1 }, 1);
        Assert.Equal(("odam", "neck", 1), (one.Method, one.Layers, one.TopK));
        Assert.Equal("gradcam", board.For(0).Method);
        Assert.Equal("gradcam", board.For(2).Method);
        Assert.Same(one, board.For(1));

        board.Apply(new ControlPatch { Alpha = 0.8, Classes = [2, 0, 2] });
        foreach (int i in new[] { 0, 1, 2 })
        {
            Assert.Equal(0.8, board.For(i).Alpha);
            Assert.Equal([0, 2], board.For(i).Classes!);
        }
        Assert.Equal("odam", board.For(1).Method); // not given: kept
        Assert.Equal(1, board.For(1).TopK);
        Assert.Equal(0.8, board.Defaults.Alpha);
        board.Apply(new ControlPatch { Classes = [] });
        Assert.Null(board.For(0).Classes); // an empty list keeps every class
        Assert.Throws<UserInputException>(() => board.Apply(new ControlPatch { TopK = 2 }, 3));
    }

    [SkippableFact]
    public void SeveralWorkersRefuseLayersTheyCannotShare()
    {
        var board = Board();
        board.Workers = 2;
        var e = Assert.Throws<UserInputException>(() => board.Apply(new ControlPatch { Layers = "75.conv" }));
        Assert.Contains("one inference worker", e.Message);
        board.Workers = 1;
        Assert.Equal("75.conv", board.Apply(new ControlPatch { Layers = "75.conv" }).Layers);
    }

    [SkippableFact]
    public async Task ARunningPipelinePicksAChangeUpFromTheNextFrames()
    {
        using var detector = new Detector(Model.Value, new DetectorOptions(160));
        var board = Board(1, new StreamControls { CamEvery = 0 });
        var seen = new List<(long Index, bool Explained, string Method, int Maps, float MinConfidence)>();
        var sink = new CallbackSink(frame =>
        {
            seen.Add((frame.Frame.Index, frame.Explained, frame.Controls.Method, frame.Result.Explanations?.Count ?? 0,
                frame.Result.Detections.Select(d => d.Confidence).DefaultIfEmpty(1).Min()));
            if (frame.Frame.Index == 9) board.Apply(new ControlPatch { Method = "odam", CamEvery = 1, TopK = 1, ConfThreshold = 0.6f });
        });
        var source = new SourceCatalog.Entry("demo", () => new VideoFileSource(Fixtures.DemoClip));
        var pipeline = new AnalysisPipeline(detector, null, new PipelineOptions { Workers = 1, QueueCapacity = 1 }) { Controls = board };
        using var stop = new CancellationTokenSource();
        await pipeline.RunAsync([source], [sink], stop.Token);

        Assert.All(seen.Where(f => f.Index <= 9), f => Assert.False(f.Explained));
        Assert.Contains(seen.Where(f => f.Index <= 9), f => f.MinConfidence < 0.6f); // the run's own threshold (0.25) before
        // A few frames were already past the inference stage when the change came; from then on every frame follows it.
        var after = seen.Where(f => f.Index >= 20).ToArray();
        Assert.NotEmpty(after);
        Assert.All(after, f =>
        {
            Assert.True(f.Explained);
            Assert.Equal("odam", f.Method);
            Assert.True(f.Maps <= 1);
            Assert.True(f.MinConfidence >= 0.6f);
        });
    }

    private sealed class CallbackSink(Action<AnalyzedFrame> write) : IFrameSink
    {
        public void Write(AnalyzedFrame frame) => write(frame);

        public void CompleteSource(int source) { }

        public void Dispose() { }
    }
}
