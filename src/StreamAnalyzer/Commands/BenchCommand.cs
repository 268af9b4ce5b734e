using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Explainers.Methods;
using StreamAnalyzer.Pipeline.Explainers.Targets;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>
/// <c>stream-analyzer bench</c>: what an explanation costs next to detection, on one image, repeated
/// (medians after warm-up). Speed targets live here, not in unit tests.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var weights = CommonOptions.Weights();
        var source = new Option<string>("--source") { Description = "image to run on", Required = true };
        var imgSize = CommonOptions.ImageSize();
        var conf = CommonOptions.ConfThreshold(0.25f);
        var method = CommonOptions.CamMethodOption("--method");
        var layers = new Option<string>("--layers") { Description = "auto, neck or indices", DefaultValueFactory = _ => "auto" };
        var topK = CommonOptions.TopK();
        var runs = new Option<int>("--runs") { Description = "timed repetitions (after 3 warm-up runs)", DefaultValueFactory = _ => 10 }.AtLeast(1);
        var threads = new Option<int>("--threads") { Description = "libtorch intra-op threads (0: libtorch's default)", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var device = CommonOptions.Device();
        var command = new Command("bench", "Time detection alone and detection + explanation of the top-K detections on one image")
        {
            weights, source, imgSize, conf, method, layers, topK, runs, threads, device,
        };
        command.SetAction(p => CommandRunner.Run(() => Execute(p.GetValue(weights)!.FullName, p.GetValue(source)!, p.GetValue(imgSize),
            p.GetValue(conf), p.GetValue(method)!, p.GetValue(layers)!, p.GetValue(topK), p.GetValue(runs),
            p.GetValue(threads), p.GetValue(device))));
        return command;
    }

    private static int Execute(string weights, string source, int imgSize, float? conf, string methodName, string layerText, int topK,
        int runs, int threads, string? deviceName)
    {
        if (threads > 0) TorchSharp.torch.set_num_threads(threads);
        using var frame = Cv2.ImRead(source, ImreadModes.Color);
        if (frame.Empty()) throw new UserInputException($"{source}: cannot read image");
        using var detector = Detector.Load(weights, new DetectorOptions(imgSize, new NmsOptions(conf), ComputeDevice.Resolve(deviceName)));
        var explainer = new CamExplainer(detector.Model, CamMethod.Parse(methodName), new ClassLogitTarget(), LayerSelection.Parse(layerText, detector.Model));

        var plain = Measure(runs, () => detector.Detect([frame]));
        var explained = Measure(runs, () => detector.Detect([frame], explainer, topK));
        var sample = detector.Detect([frame], explainer, topK)[0];
        int k = sample.Explanations?.Count ?? 0;

        Console.WriteLine($"model {Path.GetFileName(weights)}, input {sample.Geometry.InputWidth}x{sample.Geometry.InputHeight}, " +
            $"threads {TorchSharp.torch.get_num_threads()}, {runs} runs (median ms)");
        Console.WriteLine($"detect                      {Ms(plain.Total)}  (forward {Ms(plain.Forward)}, nms {Ms(plain.Nms)})");
        Console.WriteLine($"detect + explain top {k,-2}     {Ms(explained.Total)}  (forward with graph {Ms(explained.Forward)}, explain {Ms(explained.Explain)})");
        Console.WriteLine($"explanation cost            {Ms(explained.Total - plain.Total)} = {(explained.Total - plain.Total) / plain.Total:P0} of detection " +
            $"({methodName} at {explainer.Layers}, {k} detection(s))");
        if (k < topK) Console.WriteLine($"note: only {k} detection(s) above --conf-thres {detector.Options.Nms!.ConfThreshold!.Value.ToString(CultureInfo.InvariantCulture)}");
        return 0;
    }

    private sealed record Stages(double Total, double Forward, double Nms, double Explain);

    private static Stages Measure(int runs, Func<IReadOnlyList<DetectionResult>> run)
    {
        for (int i = 0; i < 3; i++) run();
        var samples = new List<(double Total, StageTimings T)>();
        for (int i = 0; i < runs; i++)
        {
            var clock = Stopwatch.StartNew();
            var r = run()[0];
            samples.Add((clock.Elapsed.TotalMilliseconds, r.Timings));
        }
        double Median(Func<(double Total, StageTimings T), double> f)
        {
            var v = samples.Select(f).Order().ToArray();
            return v.Length % 2 == 1 ? v[v.Length / 2] : (v[v.Length / 2 - 1] + v[v.Length / 2]) / 2;
        }
        return new Stages(Median(s => s.Total), Median(s => s.T.ForwardMs), Median(s => s.T.NmsMs), Median(s => s.T.ExplainMs));
    }

    private static string Ms(double ms) => ms.ToString("0.0", CultureInfo.InvariantCulture).PadLeft(7);
}
