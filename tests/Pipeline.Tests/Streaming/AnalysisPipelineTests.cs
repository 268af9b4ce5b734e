using OpenCvSharp;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Explainers.Methods;
using StreamAnalyzer.Pipeline.Explainers.Perturbation;
using StreamAnalyzer.Pipeline.Explainers.Targets;
using StreamAnalyzer.Pipeline.Sinks;
using StreamAnalyzer.Pipeline.Sources;
using StreamAnalyzer.Pipeline.Streaming;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Pipeline.Tests.Streaming;

/// <summary>The channel pipeline with synthetic sources and recording sinks: ownership, order, errors, stopping.</summary>
public class AnalysisPipelineTests
{
    private static readonly Lazy<Detector> SharedDetector = new(() => Detector.Load(Fixtures.ShapesModel, new DetectorOptions(160)));

    private static Detector Detector => SharedDetector.Value;

    /// <summary>Frames of a gray gradient, numbered in their pixel (0, 0); every image it hands out is kept to check disposal.</summary>
    private sealed class SyntheticSource(string name, int frames, List<Mat> issued, int delayMs = 0, int badFrame = -1) : IFrameSource
    {
        private int _next;

        public string Name => name;

        public bool IsLive => false;

        public bool IsImage => false;

        public double Fps => 25;

        public long? FrameCount => frames;

        public bool TryRead(out Mat image, out double timestampMs)
        {
            timestampMs = _next * 40.0;
            if (_next >= frames)
            {
                image = null!;
                return false;
            }
            if (delayMs > 0) Thread.Sleep(delayMs);
            image = _next == badFrame ? new Mat(96, 128, MatType.CV_8UC4, Scalar.All(0)) // not BGR: detection fails
                : new Mat(96, 128, MatType.CV_8UC3, new Scalar(_next % 256, 100, 50));
            lock (issued) issued.Add(image);
            _next++;
            return true;
        }

        public void Dispose() { }
    }

    private sealed class RecordingSink(Action<AnalyzedFrame>? onWrite = null) : IFrameSink
    {
        public List<(int Source, long Index, bool Explained)> Frames { get; } = [];

        public List<int> Completed { get; } = [];

        public bool Disposed { get; private set; }

        public void Write(AnalyzedFrame frame)
        {
            onWrite?.Invoke(frame);
            Frames.Add((frame.Frame.SourceIndex, frame.Frame.Index, frame.Explained));
        }

        public void CompleteSource(int source) => Completed.Add(source);

        public void Dispose() => Disposed = true;

        /// <summary>SourceStarting calls, and how many frames of that source had been written by then.</summary>
        public List<(int Source, int Width, int Height, int WrittenBefore)> Starting { get; } = [];

        public void SourceStarting(int source, int width, int height) =>
            Starting.Add((source, width, height, Frames.Count(f => f.Source == source)));
    }

    private static SourceCatalog.Entry Source(string name, int frames, List<Mat> issued, int delayMs = 0, int badFrame = -1) =>
        new(name, () => new SyntheticSource(name, frames, issued, delayMs, badFrame));

    [SkippableTheory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task EveryFrameOfEverySourceArrivesInOrderAndIsDisposed(int workers)
    {
        var issued = new List<Mat>();
        var sink = new RecordingSink();
        var explainer = new CamExplainer(Detector.Model, new GradCam(), new ClassLogitTarget(), LayerSelection.Auto);
        var pipeline = new AnalysisPipeline(Detector, explainer, new PipelineOptions { Batch = 3, VidStride = 2, CamEvery = 4, Workers = workers });

        await pipeline.RunAsync([Source("a", 20, issued), Source("b", 9, issued)], [sink], CancellationToken.None);

        Assert.Equal(Enumerable.Range(0, 10).Select(i => (long)i * 2), sink.Frames.Where(f => f.Source == 0).Select(f => f.Index));
        Assert.Equal(Enumerable.Range(0, 5).Select(i => (long)i * 2), sink.Frames.Where(f => f.Source == 1).Select(f => f.Index));
        // Every 4th processed frame of each source is explained: 0, 8, 16 of a; 0, 8 of b.
        Assert.Equal([0L, 8, 16], sink.Frames.Where(f => f.Source == 0 && f.Explained).Select(f => f.Index));
        Assert.Equal([0L, 8], sink.Frames.Where(f => f.Source == 1 && f.Explained).Select(f => f.Index));
        Assert.Equal([0, 1], sink.Completed.Order());
        Assert.True(sink.Disposed);
        Assert.Equal(29, issued.Count);
        Assert.All(issued, m => Assert.True(m.IsDisposed));
        Assert.Equal(15, pipeline.Statistics.Processed);
        Assert.InRange(pipeline.Statistics.FirstFrameAt!.Value, TimeSpan.Zero, pipeline.Statistics.Elapsed);
        Assert.True(pipeline.Statistics.FpsAfterFirstFrame > 0);
        Assert.Equal(workers, pipeline.Workers);
    }

    [SkippableTheory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task OutputsAreToldEachSourcesFrameSizeBeforeItsFirstFrameUnlessShownSideBySide(bool sideBySide)
    {
        var issued = new List<Mat>();
        var sink = new RecordingSink();
        var explainer = new CamExplainer(Detector.Model, new Odam(), new ClassLogitTarget(), LayerSelection.Neck);
        var pipeline = new AnalysisPipeline(Detector, explainer, new PipelineOptions { CamEvery = 1, SideBySide = sideBySide });

        await pipeline.RunAsync([Source("a", 4, issued), Source("b", 3, issued)], [sink], CancellationToken.None);

        Assert.Equal(7, sink.Frames.Count);
        if (sideBySide) Assert.Empty(sink.Starting); // the pictures are wider than the frames
        else Assert.Equal([(0, 128, 96, 0), (1, 128, 96, 0)], sink.Starting.OrderBy(s => s.Source));
        Assert.All(issued, m => Assert.True(m.IsDisposed));
    }

    [SkippableFact]
    public async Task AVideoOpenedAheadAtAnotherSizeIsStartedAgainAtTheFramesSize()
    {
        using var dir = new TempDirectory();
        string path = dir.File("out.mp4");
        var issued = new List<Mat>();
        var video = new VideoSink(_ => path, _ => 25, _ => false, 1);
        // Opened ahead at a size the frames do not have: the pipeline's own call (128x96) then finds it open.
        video.SourceStarting(0, 64, 64);
        var pipeline = new AnalysisPipeline(Detector, null, new PipelineOptions());

        await pipeline.RunAsync([Source("a", 6, issued)], [video], CancellationToken.None);

        Assert.Equal([path], video.Outputs);
        using var capture = new VideoCapture(path);
        Assert.True(capture.IsOpened());
        int frames = 0;
        using var image = new Mat();
        while (capture.Read(image) && !image.Empty())
        {
            Assert.Equal(new Size(128, 96), image.Size());
            frames++;
        }
        Assert.Equal(6, frames);
    }

    [SkippableFact]
    public void AVideoOpenedAheadThatNeverGetsAFrameLeavesNoFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("out.mp4");
        var video = new VideoSink(_ => path, _ => 25, _ => false, 1);
        video.SourceStarting(0, 64, 64);
        Assert.Equal([path], video.Outputs);

        video.CompleteSource(0); // e.g. the run failed on the first frame
        video.Dispose();

        Assert.False(File.Exists(path));
        Assert.Empty(video.Outputs);
    }

    [SkippableFact]
    public async Task AFileResumedAtAFrameNumberSkipsToThatPosition()
    {
        // A camera moved to another worker goes on from its last stored frame: a file source must deliver the frame
        // at position N as frame number N (the synthetic frames carry their position in the blue channel).
        var issued = new List<Mat>();
        var seen = new List<(long Index, byte Blue)>();
        var sink = new RecordingSink(f => seen.Add((f.Frame.Index, f.Frame.Image.At<Vec3b>(90, 120).Item0)));
        var pipeline = new AnalysisPipeline(Detector, null, new PipelineOptions { FirstFrame = 7 });

        await pipeline.RunAsync([Source("a", 20, issued)], [sink], CancellationToken.None);

        Assert.Equal(Enumerable.Range(7, 13).Select(i => (long)i), seen.Select(s => s.Index));
        Assert.All(seen, s => Assert.Equal(s.Index, s.Blue));
        Assert.Equal(20, issued.Count);
        Assert.All(issued, m => Assert.True(m.IsDisposed));
    }

    [Fact]
    public void BeforeTwoFramesThereIsNoSteadyRate()
    {
        var statistics = new PipelineStatistics();
        Assert.Null(statistics.FirstFrameAt);
        Assert.Null(statistics.FpsAfterFirstFrame);
    }

    [SkippableFact]
    public async Task SeveralWorkersGiveTheSameResultsInTheSameOrderAsOne()
    {
        Skip.IfNot(File.Exists(Fixtures.DemoClip), $"the demo clip {Fixtures.DemoClip} is missing");
        using var detector = Detector.Load(Fixtures.ShapesModel, new DetectorOptions(320));
        var explainer = new CamExplainer(detector.Model, new Odam(), new ClassLogitTarget(), LayerSelection.Neck);
        var runs = new List<List<string>>();
        foreach (int workers in new[] { 1, 2 })
        {
            var lines = new List<string>();
            var sink = new RecordingSink(f => lines.Add($"{f.Frame.Index} {f.Explained} " + string.Join(";",
                f.Result.Detections.Select(d => $"{d.ClassId}:{d.Confidence:F5}:{d.Box.X1:F2},{d.Box.Y1:F2},{d.Box.X2:F2},{d.Box.Y2:F2}")) + " " +
                string.Join(";", (f.Result.Explanations ?? []).Select(e => $"{e.Maps[0].Peak()}"))));
            var pipeline = new AnalysisPipeline(detector, explainer, new PipelineOptions { CamEvery = 3, VidStride = 2, Workers = workers });
            await pipeline.RunAsync(SourceCatalog.Resolve(Fixtures.DemoClip), [sink], CancellationToken.None);
            Assert.Equal(workers, pipeline.Workers);
            runs.Add(lines);
        }
        Assert.Equal(150, runs[0].Count);
        Assert.Contains(runs[0], l => l.Contains(" True ") && l.Contains('('));
        Assert.Equal(runs[0], runs[1]);
    }

    [SkippableTheory]
    [InlineData(1)]
    [InlineData(2)]
    public async Task AFrameTheDetectorRejectsStopsTheRunWithItsErrorAndNothingLeaks(int workers)
    {
        var issued = new List<Mat>();
        var sink = new RecordingSink();
        var pipeline = new AnalysisPipeline(Detector, null, new PipelineOptions { QueueCapacity = 2, Workers = workers });

        var e = await Record.ExceptionAsync(() => pipeline.RunAsync([Source("a", 500, issued, badFrame: 7)], [sink], CancellationToken.None));

        Assert.NotNull(e);
        Assert.IsNotAssignableFrom<OperationCanceledException>(e);
        Assert.Equal(Enumerable.Range(0, sink.Frames.Count).Select(i => (long)i), sink.Frames.Select(f => f.Index));
        Assert.True(sink.Frames.Count <= 7);
        Assert.True(issued.Count < 500, "capture must stop when inference fails");
        Assert.True(sink.Disposed);
        Assert.All(issued, m => Assert.True(m.IsDisposed));
    }

    [SkippableFact]
    public async Task SeveralWorkersOnTorchSharpAreRefusedWithAClearError()
    {
        using var detector = new Detector(Detector.Model, new DetectorOptions(160, Backend: InferenceBackend.Torch));
        var pipeline = new AnalysisPipeline(detector, null, new PipelineOptions { Workers = 2 });
        var e = await Assert.ThrowsAsync<StreamAnalyzer.Pipeline.Runtime.UserInputException>(() => pipeline.RunAsync([Source("a", 3, [])], [new RecordingSink()], CancellationToken.None));
        Assert.Contains("--workers 2", e.Message);
    }

    [SkippableFact]
    public async Task ASinkFailureStopsTheRunWithThatErrorAndNothingLeaks()
    {
        var issued = new List<Mat>();
        var healthy = new RecordingSink();
        var failing = new RecordingSink(f => { if (f.Frame.Index == 5) throw new IOException("disk full"); });
        var pipeline = new AnalysisPipeline(Detector, null, new PipelineOptions { QueueCapacity = 2 });

        var e = await Assert.ThrowsAsync<IOException>(() => pipeline.RunAsync([Source("a", 500, issued)], [failing, healthy], CancellationToken.None));

        Assert.Equal("disk full", e.Message);
        Assert.True(issued.Count < 500, "capture must stop when a later stage fails");
        Assert.True(healthy.Disposed && failing.Disposed, "sinks are finished even when the run fails");
        Assert.All(issued, m => Assert.True(m.IsDisposed));
    }

    // A failure downstream stops the workers between batches; the batch they leave untaken must not be waited on for
    // ever. The moment varies from run to run, so the run is repeated with the failure at different frames.
    [SkippableTheory]
    [InlineData(2)]
    [InlineData(3)]
    public async Task ASinkFailureWithSeveralWorkersEndsEveryTimeAndNothingLeaks(int workers)
    {
        for (int run = 0; run < 40; run++)
        {
            var issued = new List<Mat>();
            int failAt = 1 + run % 9;
            var failing = new RecordingSink(f => { if (f.Frame.Index == failAt) throw new IOException("disk full"); });
            var pipeline = new AnalysisPipeline(Detector, null, new PipelineOptions { Batch = 1, QueueCapacity = 1, Workers = workers });

            var e = await Assert.ThrowsAsync<IOException>(() => pipeline.RunAsync([Source("a", 200, issued)], [failing], CancellationToken.None)
                .WaitAsync(TimeSpan.FromSeconds(60)));

            Assert.Equal("disk full", e.Message);
            Assert.True(failing.Disposed);
            Assert.All(issued, m => Assert.True(m.IsDisposed));
        }
    }

    [SkippableFact]
    public async Task StoppingEndsCaptureButDrainsWhatWasCapturedIntoFinishedSinks()
    {
        var issued = new List<Mat>();
        var sink = new RecordingSink();
        var pipeline = new AnalysisPipeline(Detector, null, new PipelineOptions());
        using var stop = new CancellationTokenSource(TimeSpan.FromMilliseconds(600));

        await pipeline.RunAsync([Source("slow", 10_000, issued, delayMs: 5)], [sink], stop.Token);

        Assert.InRange(sink.Frames.Count, 1, 9_999);
        Assert.Equal(Enumerable.Range(0, sink.Frames.Count).Select(i => (long)i), sink.Frames.Select(f => f.Index));
        // Nothing that entered the pipeline is lost (a frame being handed over when the stop came is only disposed).
        Assert.Equal(pipeline.Statistics.Captured, sink.Frames.Count);
        Assert.InRange(issued.Count - sink.Frames.Count, 0, 1);
        Assert.True(sink.Disposed);
        Assert.All(issued, m => Assert.True(m.IsDisposed));
    }

    /// <summary>
    /// After a stop, frames already read are still detected and written but not explained: a stop does not wait for
    /// maps that can take seconds a frame. The explained frames are a prefix of the run; the last ones are not.
    /// </summary>
    [SkippableFact]
    public async Task FramesAnalysedAfterAStopAreWrittenWithoutExplanations()
    {
        var issued = new List<Mat>();
        using var stop = new CancellationTokenSource();
        var sink = new RecordingSink(frame => { if (frame.Frame.Index == 2) stop.Cancel(); });
        var explainer = new CamExplainer(Detector.Model, new GradCam(), new ClassLogitTarget(), LayerSelection.Auto);
        var pipeline = new AnalysisPipeline(Detector, explainer, new PipelineOptions { CamEvery = 1, Workers = 1 });

        await pipeline.RunAsync([Source("a", 500, issued)], [sink], stop.Token);

        Assert.Equal(Enumerable.Range(0, sink.Frames.Count).Select(i => (long)i), sink.Frames.Select(f => f.Index));
        Assert.Equal(pipeline.Statistics.Captured, sink.Frames.Count);
        int explained = sink.Frames.Count(f => f.Explained);
        Assert.InRange(explained, 3, sink.Frames.Count - 1);
        Assert.All(sink.Frames.Take(explained), f => Assert.True(f.Explained));
        Assert.All(issued, m => Assert.True(m.IsDisposed));
    }

    /// <summary>
    /// A perturbation map being computed when the run stops is given up (its options carry the stop): the frame is
    /// written without it, with every other frame read. Unstopped, 20,000 D-RISE masks would explain the first frame.
    /// </summary>
    [SkippableFact]
    public async Task APerturbationMapBeingComputedWhenTheRunStopsIsGivenUp()
    {
        using var stop = new CancellationTokenSource();
        var explainer = new CamExplainer(Detector.Model, new DRise(), new ClassLogitTarget(), LayerSelection.Auto,
            new PerturbationOptions(Samples: 20_000, Cancellation: stop.Token));
        var sink = new RecordingSink();
        var pipeline = new AnalysisPipeline(Detector, explainer, new PipelineOptions { CamEvery = 1, Workers = 1 });
        stop.CancelAfter(TimeSpan.FromSeconds(1));

        await pipeline.RunAsync(SourceCatalog.Resolve(Fixtures.DemoClip), [sink], stop.Token);

        Assert.NotEmpty(sink.Frames);
        Assert.Equal(pipeline.Statistics.Captured, sink.Frames.Count);
        Assert.All(sink.Frames, f => Assert.False(f.Explained));
        Assert.Equal(Enumerable.Range(0, sink.Frames.Count).Select(i => (long)i), sink.Frames.Select(f => f.Index));
    }

    [SkippableFact]
    public async Task ASourceThatCannotBeOpenedIsReportedAndTheOthersRun()
    {
        var issued = new List<Mat>();
        var sink = new RecordingSink();
        var pipeline = new AnalysisPipeline(Detector, null, new PipelineOptions());
        var broken = new SourceCatalog.Entry("broken.mp4", () => throw new StreamAnalyzer.Pipeline.Runtime.UserInputException("broken.mp4: cannot open as a video"));

        await pipeline.RunAsync([broken, Source("ok", 3, issued)], [sink], CancellationToken.None);

        Assert.Equal(3, sink.Frames.Count);
        Assert.Contains("broken.mp4: cannot open as a video", pipeline.Statistics.SourceErrors);
    }

    /// <summary>A camera-like source: a new frame every <paramref name="intervalMs"/>, forever.</summary>
    private sealed class TickingCamera(string name, int intervalMs, List<Mat> issued) : IFrameSource
    {
        public string Name => name;

        public bool IsLive => true;

        public bool IsImage => false;

        public double Fps => 1000.0 / intervalMs;

        public long? FrameCount => null;

        public bool TryRead(out Mat image, out double timestampMs)
        {
            Thread.Sleep(intervalMs);
            timestampMs = 0;
            image = new Mat(96, 128, MatType.CV_8UC3, new Scalar(90, 90, 90));
            lock (issued) issued.Add(image);
            return true;
        }

        public void Dispose() { }
    }

    [SkippableFact]
    public async Task LiveSourcesKeepTheNewestFrameAndASlowCameraNeverStallsAFastOne()
    {
        var issued = new List<Mat>();
        // The run ends once both cameras have had enough frames through: a starved or stalled camera never gets
        // there and the deadline fails the test. (A fixed time window was flaky on a loaded 2-core machine.)
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        int fastSeen = 0, slowSeen = 0;
        var sink = new RecordingSink(f =>
        {
            Thread.Sleep(15); // a sink slower than the fast camera
            if (f.Frame.SourceIndex == 0) fastSeen++; else slowSeen++;
            if (fastSeen >= 30 && slowSeen >= 6) stop.Cancel();
        });
        var pipeline = new AnalysisPipeline(Detector, null, new PipelineOptions { Batch = 2 });
        var fast = new SourceCatalog.Entry("fast", () => new TickingCamera("fast", 2, issued), IsLive: true);
        var slow = new SourceCatalog.Entry("slow", () => new TickingCamera("slow", 250, issued), IsLive: true);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        await pipeline.RunAsync([fast, slow], [sink], stop.Token);

        var fastFrames = sink.Frames.Where(f => f.Source == 0).Select(f => f.Index).ToArray();
        var slowFrames = sink.Frames.Where(f => f.Source == 1).Select(f => f.Index).ToArray();
        Assert.True(slowFrames.Length >= 6, $"slow camera: {slowFrames.Length} frames in {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(fastFrames.Length >= 30, $"fast camera: {fastFrames.Length} frames in {clock.Elapsed.TotalSeconds:0.0} s");
        Assert.True(fastFrames.Zip(fastFrames.Skip(1)).All(p => p.First < p.Second), "frames of a source stay in order");
        Assert.True(pipeline.Statistics.Sources[0].Dropped > 0, "a camera faster than the pipeline must drop its older frames");
        Assert.True(fastFrames.Zip(fastFrames.Skip(1)).Any(p => p.Second - p.First > 1), "skipped indices show the dropped frames");
        Assert.All(issued, m => Assert.True(m.IsDisposed));
    }
}
