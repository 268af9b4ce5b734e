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

    public static void Run(Detector detector, CamExplainer explainer, string path, int camEvery, int topK, int frameLimit, int workers, int rounds,
        Dictionary<string, object> report)
    {
        // The model alone on the first frame, before the first round and after each, so that each round's rate is set
        // against the model's measured on either side of it: on a shared host the speed drifts over seconds.
        using var first = FirstFrame(path);
        var (letterboxed, _) = Letterbox.Apply(first, detector.LetterboxSettings);
        using var __ = letterboxed;
        using var input = InputTensor.FromImages([letterboxed], detector.Device);
        var modelOnly = new BenchSamples();
        var modelRounds = new List<BenchSamples>();
        void MeasureModel()
        {
            var samples = new BenchSamples();
            samples.Measure(15, () =>
            {
                using var scope = NewDisposeScope();
                detector.Forward(input);
                BenchCommand.Synchronize(detector.Device);
            });
            modelRounds.Add(samples);
            modelOnly.AddAll(samples);
        }
        MeasureModel();

        string scratch = Directory.CreateTempSubdirectory("stream-analyzer-bench-").FullName;
        try
        {
            var stages = new[] { "preprocess", "forward", "nms", "explain", "render", "write", "latency" }.ToDictionary(s => s, _ => new BenchSamples());
            var endToEnd = new List<(double Fps, long Frames)>();
            long rssAt500 = 0, lastRoundFrames = 0;
            int pipelineWorkers = 0;
            for (int round = 0; round < rounds; round++)
            {
                var result = RunPipeline(detector, explainer, path, new PipelineOptions { CamEvery = camEvery, TopK = topK, Workers = workers },
                    frameLimit, stages, Path.Combine(scratch, $"bench{round}.mp4"));
                if (round == 0) rssAt500 = result.RssAt500;
                lastRoundFrames = result.Done;
                pipelineWorkers = result.Workers;
                endToEnd.Add((result.Fps, result.Counted));
                File.Delete(Path.Combine(scratch, $"bench{round}.mp4"));
                MeasureModel();
            }
            // Each round against the model's rate measured before and after it; the round with the median share is
            // reported, with the model's rate around it (over all rounds it is the model-only line's).
            var around = endToEnd.Select((_, i) =>
            {
                var adjacent = new BenchSamples();
                adjacent.AddAll(modelRounds[i]);
                adjacent.AddAll(modelRounds[i + 1]);
                return 1000 / adjacent.Median;
            }).ToArray();
            var ratios = endToEnd.Select((e, i) => e.Fps / around[i]).ToArray();
            int median = Enumerable.Range(0, rounds).OrderBy(i => ratios[i]).ElementAt((rounds - 1) / 2);
            double ratio = ratios[median], fps = endToEnd[median].Fps, model = 1000 / modelOnly.Median;
            long processed = endToEnd.Sum(e => e.Frames);
            // Without ffmpeg the sink falls back to OpenCV's MPEG-4 Part 2 writer, which costs differently.
            bool h264 = Ffmpeg.FfmpegPath is not null;
            string encoder = h264 ? $"H.264 encode, x264 {EncoderPresets.Resolve(null)}" : "mp4v encode (OpenCV, no ffmpeg)";
            string inRounds = rounds > 1
                ? string.Create(CultureInfo.InvariantCulture, $" ({around[median]:0.0} fps around this run; the median of {rounds} rounds)")
                : "";
            Console.WriteLine($"model only          {model.ToString("0.0", CultureInfo.InvariantCulture)} fps (forward {BenchCommand.Ms(modelOnly.Median)}, p95 {BenchCommand.Ms(modelOnly.P95)})");
            Console.WriteLine($"end to end          {fps.ToString("0.0", CultureInfo.InvariantCulture)} fps over {endToEnd[median].Frames} frames after {WarmUp} warm-up = {ratio:P0} of model-only{inRounds} " +
                $"(decode, detect{(camEvery > 0 ? $", {explainer.Method.Name} at {explainer.Layers} every {camEvery}" : "")}, render, {encoder}; " +
                $"{pipelineWorkers} worker(s))");
            if (rounds > 1)
                Console.WriteLine($"rounds              {string.Join(", ", endToEnd.Zip(ratios, (e, r) => string.Create(CultureInfo.InvariantCulture, $"{e.Fps:0.0} fps = {r:P0}")))}");
            Console.WriteLine("per frame                    median      p95");
            foreach (var (name, samples) in stages)
                if (samples.Count > 0) Console.WriteLine($"  {name,-26}{samples}");
            report["model_only_fps"] = Math.Round(model, 1);
            report["end_to_end_fps"] = Math.Round(fps, 1);
            report["end_to_end_ratio"] = Math.Round(ratio, 3);
            report["rounds"] = endToEnd.Select((e, i) => new { end_to_end_fps = Math.Round(e.Fps, 1), model_only_fps = Math.Round(around[i], 1), ratio = Math.Round(ratios[i], 3) }).ToArray();
            report["frames"] = processed;
            report["cam_every"] = camEvery;
            report["encoder"] = h264 ? $"h264 (ffmpeg, x264 {EncoderPresets.Resolve(null)})" : "mp4v (OpenCV)";
            report["workers"] = pipelineWorkers;
            if (rssAt500 > 0)
            {
                long rssEnd = Environment.WorkingSet;
                double growth = (double)(rssEnd - rssAt500) / rssAt500;
                Console.WriteLine($"resident memory     {rssAt500 >> 20} MB after {MemoryMark} frames, {rssEnd >> 20} MB after {(rounds > 1 ? $"{rounds} rounds of {lastRoundFrames}" : lastRoundFrames)} ({growth:+0.0%;-0.0%})");
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

    // The first frames pay for building sessions and filling queues: the rate is taken from the end of the warm-up to
    // the last counted frame; frames still in flight after the limit are not counted.
    private const int WarmUp = 10;

    private sealed record PipelineRound(double Fps, long Counted, long Done, long RssAt500, int Workers);

    private static PipelineRound RunPipeline(Detector detector, CamExplainer explainer, string path, PipelineOptions options, int frameLimit,
        Dictionary<string, BenchSamples> stages, string output)
    {
        var pipeline = new AnalysisPipeline(detector, options.CamEvery > 0 ? explainer : null, options);
        using var stop = new CancellationTokenSource();
        long done = 0, counted = 0, rssAt500 = 0;
        var clock = new Stopwatch();
        pipeline.Statistics.FrameDone += t =>
        {
            long n = Interlocked.Increment(ref done);
            if (n == WarmUp) clock.Start();
            if (n == MemoryMark) rssAt500 = Environment.WorkingSet;
            if (n <= WarmUp || (frameLimit > 0 && n > WarmUp + frameLimit)) return;
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
            if (frameLimit > 0 && n == WarmUp + frameLimit)
            {
                clock.Stop();
                stop.Cancel();
            }
        };
        double fps = 0;
        var sink = new VideoSink(_ => output, _ => fps, _ => false, 1);
        pipeline.SourceOpened += (_, s) => fps = s.Fps;
        pipeline.RunAsync(SourceCatalog.Resolve(path), [sink], stop.Token).GetAwaiter().GetResult();
        clock.Stop();
        if (counted == 0) throw new UserInputException($"{path}: fewer than {WarmUp + 1} frames; the video benchmark needs more");
        return new PipelineRound(counted / clock.Elapsed.TotalSeconds, counted, done, rssAt500, pipeline.Workers);
    }

    private static OpenCvSharp.Mat FirstFrame(string path)
    {
        using var source = SourceCatalog.OpenVideoFile(path);
        if (!source.TryRead(out var first, out _)) throw new UserInputException($"{path}: no frame could be decoded");
        return first;
    }
}
