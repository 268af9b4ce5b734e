using System.Diagnostics;
using System.Globalization;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Sinks;
using StreamAnalyzer.Pipeline.Sources;
using StreamAnalyzer.Pipeline.Streaming;
using static TorchSharp.torch;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>
/// `bench` on a video: the model alone on its first frame, against the whole pipeline on the file (decode, detect,
/// explain every Nth frame, render, H.264 encode to a scratch file - MPEG-4 Part 2 through OpenCV where ffmpeg is
/// missing) - how much of the model's speed a run keeps.
/// </summary>
internal static class VideoBenchmark
{
    // Resident memory is taken here and at the end: a run that keeps its memory flat shows the same figure.
    private const int MemoryMark = 500;

    public static void Run(Detector detector, CamExplainer explainer, string path, int camEvery, int topK, int frameLimit, int workers, Dictionary<string, object> report)
    {
        // The model alone on the first frame, before and after the pipeline run so that drift affects both alike.
        using var first = FirstFrame(path);
        var (letterboxed, _) = Letterbox.Apply(first, detector.LetterboxSettings);
        using var __ = letterboxed;
        using var input = InputTensor.FromImages([letterboxed], detector.Device);
        var modelOnly = new BenchSamples();
        void MeasureModel() => modelOnly.Measure(15, () =>
        {
            using var scope = NewDisposeScope();
            detector.Forward(input);
            BenchCommand.Synchronize(detector.Device);
        });
        MeasureModel();

        string scratch = Directory.CreateTempSubdirectory("stream-analyzer-bench-").FullName;
        try
        {
            var stages = new[] { "preprocess", "forward", "nms", "explain", "render", "write", "latency" }.ToDictionary(s => s, _ => new BenchSamples());
            var options = new PipelineOptions { CamEvery = camEvery, TopK = topK, Workers = workers };
            var pipeline = new AnalysisPipeline(detector, camEvery > 0 ? explainer : null, options);
            using var stop = new CancellationTokenSource();
            // The first frames pay for building sessions and filling queues: the rate is taken from the end of the
            // warm-up to the last counted frame; frames still in flight after the limit are not counted.
            const int warmUp = 10;
            long done = 0, counted = 0, rssAt500 = 0;
            var clock = new Stopwatch();
            pipeline.Statistics.FrameDone += t =>
            {
                long n = Interlocked.Increment(ref done);
                if (n == warmUp) clock.Start();
                if (n == MemoryMark) rssAt500 = Environment.WorkingSet;
                if (n <= warmUp || (frameLimit > 0 && n > warmUp + frameLimit)) return;
                lock (stages)
                {
                    stages["preprocess"].Add(t.Stages.PreprocessMs);
                    stages["forward"].Add(t.Stages.ForwardMs);
                    stages["nms"].Add(t.Stages.NmsMs);
                    if (t.Explained) stages["explain"].Add(t.Stages.ExplainMs);
                    stages["render"].Add(t.RenderMs);
                    stages["write"].Add(t.WriteMs);
                    stages["latency"].Add(t.LatencyMs);
                    counted++;
                }
                if (frameLimit > 0 && n == warmUp + frameLimit)
                {
                    clock.Stop();
                    stop.Cancel();
                }
            };
            double fps = 0;
            var sink = new VideoSink(_ => Path.Combine(scratch, "bench.mp4"), _ => fps, _ => false, 1);
            pipeline.SourceOpened += (_, s) => fps = s.Fps;
            pipeline.RunAsync(SourceCatalog.Resolve(path), [sink], stop.Token).GetAwaiter().GetResult();
            clock.Stop();
            MeasureModel();
            if (counted == 0) throw new UserInputException($"{path}: fewer than {warmUp + 1} frames; the video benchmark needs more");
            long processed = counted;
            // Without ffmpeg the sink falls back to OpenCV's MPEG-4 Part 2 writer, which costs differently.
            bool h264 = Ffmpeg.FfmpegPath is not null;
            string encoder = h264 ? "H.264 encode" : "mp4v encode (OpenCV, no ffmpeg)";
            double endToEnd = processed / clock.Elapsed.TotalSeconds, model = 1000 / modelOnly.Median;
            Console.WriteLine($"model only          {model.ToString("0.0", CultureInfo.InvariantCulture)} fps (forward {BenchCommand.Ms(modelOnly.Median)}, p95 {BenchCommand.Ms(modelOnly.P95)})");
            Console.WriteLine($"end to end          {endToEnd.ToString("0.0", CultureInfo.InvariantCulture)} fps over {processed} frames after {warmUp} warm-up = {endToEnd / model:P0} of model-only " +
                $"(decode, detect{(camEvery > 0 ? $", {explainer.Method.Name} at {explainer.Layers} every {camEvery}" : "")}, render, {encoder}; " +
                $"{pipeline.Workers} worker(s))");
            Console.WriteLine("per frame                    median      p95");
            foreach (var (name, samples) in stages)
                if (samples.Count > 0) Console.WriteLine($"  {name,-26}{samples}");
            report["model_only_fps"] = Math.Round(model, 1);
            report["end_to_end_fps"] = Math.Round(endToEnd, 1);
            report["end_to_end_ratio"] = Math.Round(endToEnd / model, 3);
            report["frames"] = processed;
            report["cam_every"] = camEvery;
            report["encoder"] = h264 ? "h264 (ffmpeg)" : "mp4v (OpenCV)";
            report["workers"] = pipeline.Workers;
            if (rssAt500 > 0)
            {
                long rssEnd = Environment.WorkingSet;
                double growth = (double)(rssEnd - rssAt500) / rssAt500;
                Console.WriteLine($"resident memory     {rssAt500 >> 20} MB after {MemoryMark} frames, {rssEnd >> 20} MB after {done} ({growth:+0.0%;-0.0%})");
                report["rss_mb_at_500"] = rssAt500 >> 20;
                report["rss_mb_at_end"] = rssEnd >> 20;
                report["rss_growth"] = Math.Round(growth, 4);
            }
            report["stages"] = stages.Where(kv => kv.Value.Count > 0).ToDictionary(kv => kv.Key, kv => kv.Value.ToJson());
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    private static OpenCvSharp.Mat FirstFrame(string path)
    {
        using var source = new VideoFileSource(path);
        if (!source.TryRead(out var first, out _)) throw new UserInputException($"{path}: no frame could be decoded");
        return first;
    }
}
