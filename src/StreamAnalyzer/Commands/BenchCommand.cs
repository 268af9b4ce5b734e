using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Explainers.Methods;
using StreamAnalyzer.Pipeline.Explainers.Targets;
using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Sources;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>
/// <c>stream-analyzer bench</c>: where the time goes. On an image: the forward pass alone on each backend (and an
/// ONNX file to compare with), detection per stage, detection + explanation of the top K and what the explanation
/// adds. On a video: model-only fps against the whole pipeline's (decode, detect, explain every Nth frame, render,
/// H.264 encode), per stage. Medians and 95th percentiles, peak memory, and <c>--json</c>. Speed targets live here,
/// not in unit tests.
/// </summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var weights = CommonOptions.Weights();
        var source = new Option<string>("--source") { Description = "an image (forward, detect, explain timings) or a video (model-only against end-to-end fps)", Required = true };
        var imgSize = CommonOptions.ImageSize();
        var conf = CommonOptions.ConfThreshold(0.25f);
        var method = CommonOptions.CamMethodOption("--method");
        var layers = new Option<string>("--layers") { Description = "auto, neck or indices", DefaultValueFactory = _ => "auto" };
        var topK = CommonOptions.TopK();
        var runs = new Option<int>("--runs") { Description = "timed repetitions on an image (after 3 warm-up runs)", DefaultValueFactory = _ => 20 }.AtLeast(1);
        var threads = new Option<int>("--threads") { Description = "intra-op threads of libtorch and ONNX Runtime (0: libtorch's default)", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var camEvery = new Option<int>("--cam-every") { Description = "on a video: explain every Nth frame (0 = never)", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var frames = new Option<int>("--frames") { Description = "on a video: frames to time after 10 warm-up frames (0 = the whole file)", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var onnx = new Option<FileInfo?>("--compare-onnx") { Description = "also time this ONNX file (e.g. exported by upstream code) on ONNX Runtime, same input and threads" };
        var rounds = new Option<int>("--rounds")
        {
            Description = "on a video: pipeline runs, each set against the model alone measured before and after it; the median is reported (the host's speed drifts, and the first run carries .NET's warm-up)",
            DefaultValueFactory = _ => 3,
        }.AtLeast(1);
        var workers = CommonOptions.Workers();
        var json = new Option<FileInfo?>("--json") { Description = "write the results as JSON to this file" };
        var device = CommonOptions.Device();
        var half = CommonOptions.Half();
        var tf32 = CommonOptions.Tf32();
        var batch = new Option<int>("--batch") { Description = "on an image: images per forward pass (copies of it)", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var backend = CommonOptions.Backend();
        var command = new Command("bench", "Time the forward pass per backend, detection and explanation per stage, and the pipeline on a video")
        {
            weights, source, imgSize, conf, method, layers, topK, runs, threads, camEvery, frames, rounds, workers, onnx, json, device, half, tf32, batch, backend,
        };
        command.SetAction(p => CommandRunner.Run(() =>
        {
            if (p.GetValue(threads) > 0) TorchSharp.torch.set_num_threads(p.GetValue(threads));
            string src = p.GetValue(source)!;
            if (Directory.Exists(src)) throw new UserInputException(FolderSource(src));
            bool video = SourceCatalog.VideoExtensions.Contains(Path.GetExtension(src));
            if (p.GetValue(onnx) is { } onnxFile)
            {
                // Checked before the model loads, as --weights is.
                if (Directory.Exists(onnxFile.FullName)) throw new UserInputException($"--compare-onnx {onnxFile}: is a folder; give an .onnx file");
                if (!onnxFile.Exists) throw new UserInputException($"--compare-onnx {onnxFile}: no such file");
                if (video)
                    throw new UserInputException("--compare-onnx applies to an image (forward passes timed side by side), not to a video");
            }
            var jsonFile = p.GetValue(json);
            if (jsonFile is not null) OutputLocationCheck(jsonFile.FullName);
            var options = new DetectorOptions(p.GetValue(imgSize), new NmsOptions(p.GetValue(conf)), CommonOptions.ResolveDevice(p.GetValue(device), p.GetValue(tf32)), p.GetValue(half),
                Backend: p.GetValue(backend));
            if (video && p.GetValue(batch) > 1) throw new UserInputException("--batch applies to an image (copies of it per forward pass), not to a video");
            if (!video && p.GetResult(rounds) is { Implicit: false } && p.GetValue(rounds) > 1) throw new UserInputException("--rounds applies to a video (pipeline runs), not to an image");
            using var detector = Detector.Load(p.GetValue(weights)!.FullName, options);
            var explainer = new CamExplainer(detector.Model, CamMethod.Parse(p.GetValue(method)!), new ClassLogitTarget(),
                LayerSelection.Parse(p.GetValue(layers)!, detector.Model));
            var report = new Dictionary<string, object>
            {
                ["model"] = Path.GetFileName(p.GetValue(weights)!.FullName),
                ["family"] = detector.Model.Family.Name,
                ["backend"] = detector.Backend.ToString().ToLowerInvariant(),
                ["threads"] = TorchSharp.torch.get_num_threads(),
                ["device"] = detector.Device.ToString(),
                ["dtype"] = detector.Options.Half ? "float16" : "float32",
                ["tf32"] = detector.Device.type == TorchSharp.DeviceType.CUDA && !detector.Options.Half && p.GetValue(tf32),
                ["batch"] = p.GetValue(batch),
            };
            Console.WriteLine($"model {report["model"]} ({detector.Model.Family.DisplayName}), backend {report["backend"]}, device {report["device"]} " +
                $"{report["dtype"]}{((bool)report["tf32"] ? " (TF32)" : "")}, threads {report["threads"]}");
            if (video) VideoBenchmark.Run(detector, explainer, src, p.GetValue(camEvery), p.GetValue(topK), p.GetValue(frames), p.GetValue(workers), p.GetValue(rounds), report);
            else ImageBenchmark.Run(detector, explainer, src, p.GetValue(topK), p.GetValue(runs), p.GetValue(batch), p.GetValue(onnx), report);
            long peak = Process.GetCurrentProcess().PeakWorkingSet64 >> 20;
            report["peak_memory_mb"] = peak;
            Console.WriteLine($"peak memory (RSS)   {peak} MB");
            if (jsonFile is { } file)
            {
                Directory.CreateDirectory(file.DirectoryName!);
                File.WriteAllText(file.FullName, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true }));
                Console.WriteLine($"JSON in {file.FullName}");
            }
            return 0;
        }));
        return command;
    }

    // bench times one file; a folder would otherwise be "cannot read image".
    private static string FolderSource(string folder)
    {
        var media = Directory.EnumerateFiles(folder).Where(SourceCatalog.IsMedia).Order(StringComparer.Ordinal).ToArray();
        return media.Length == 0
            ? $"--source {folder}: the folder has no images or videos (bench times one image or video file)"
            : $"--source {folder}: is a folder; bench times one image or video file, e.g. --source {media[0]}";
    }

    private static void OutputLocationCheck(string path) => Pipeline.Sinks.OutputLocation.EnsureFile(path, "--json");

    /// <summary>Waits for the device's queued work, so that a CUDA call is timed to its end and not to its launch.</summary>
    internal static void Synchronize(TorchSharp.torch.Device device)
    {
        if (device.type == TorchSharp.DeviceType.CUDA) TorchSharp.torch.cuda.synchronize(device);
    }

    /// <summary>"12.3 ms" in invariant culture.</summary>
    internal static string Ms(double ms) => ms.ToString("0.0", CultureInfo.InvariantCulture) + " ms";
}
