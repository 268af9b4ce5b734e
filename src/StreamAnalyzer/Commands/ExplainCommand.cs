using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Explainers.Faithfulness;
using StreamAnalyzer.Pipeline.Explainers.Methods;
using StreamAnalyzer.Pipeline.Explainers.Perturbation;
using StreamAnalyzer.Pipeline.Explainers.Targets;
using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Numpy;
using StreamAnalyzer.Pipeline.Rendering;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Sources;

namespace StreamAnalyzer.Cli.Commands;

/// <summary><c>stream-analyzer explain</c>: CAM heatmaps for the top-K detections of images.</summary>
internal static class ExplainCommand
{
    public static Command Create()
    {
        var weights = CommonOptions.Weights();
        var source = new Option<string>("--source") { Description = "image file, folder of images, or glob", Required = true };
        var method = new Option<string>("--method")
        {
            Description = $"{CamMethods.Help}. With --evaluate, several comma-separated (or all)",
            DefaultValueFactory = _ => "gradcam",
        }.Parses(m => Methods(m));
        var layers = new Option<string[]>("--layers")
        {
            Description = "auto (the head input at each detection's level), neck (head inputs and the layers feeding them, fused) or layer indices, e.g. 74,75,76. " +
                "With --evaluate it can be given several times (--layers auto --layers neck). Ignored by drise and lime, which explain the input",
            DefaultValueFactory = _ => ["auto"],
        };
        var seed = CommonOptions.Seed();
        var samples = CommonOptions.Samples();
        var perturbationBatch = CommonOptions.PerturbationBatch();
        var evaluate = new Option<bool>("--evaluate")
        {
            Description = "score every method x layers choice by deletion and insertion AUC against a random map, and write evaluation.csv, .json and .png",
        };
        var steps = new Option<int>("--steps")
        {
            Description = "steps of the deletion and insertion curves of --evaluate",
            DefaultValueFactory = _ => FaithfulnessEvaluator.DefaultSteps,
        }.InRange(1, 1000);
        var topK = CommonOptions.TopK();
        var target = CommonOptions.CamTargetOption("--target");
        var imgSize = CommonOptions.ImageSize();
        var conf = CommonOptions.ConfThreshold(0.45f);
        var iou = CommonOptions.IouThreshold();
        var device = CommonOptions.Device();
        var tf32 = CommonOptions.Tf32();
        var saveNpy = new Option<bool>("--save-npy") { Description = "also write the raw maps (letterboxed input size, float32 .npy) and <image>.json" };
        var alpha = CommonOptions.Alpha();
        var inBox = new Option<bool>("--norm-in-box") { Description = "renormalise each map inside its detection's box" };
        var project = new Option<string>("--project") { DefaultValueFactory = _ => Path.Combine("runs", "explain"), Description = "results go to <project>/<name>" };
        var name = new Option<string>("--name") { DefaultValueFactory = _ => "exp", Description = "results folder name" };
        var existOk = new Option<bool>("--exist-ok") { Description = "reuse <project>/<name>" };
        var noFuse = CommonOptions.NoFuse();
        var backend = CommonOptions.Backend();
        var command = new Command("explain", "Heatmaps of what the detector looks at for its top-K detections")
        {
            weights, source, method, layers, topK, target, imgSize, conf, iou, device, tf32, backend, saveNpy, alpha, inBox, project, name, existOk, noFuse,
            seed, samples, perturbationBatch, evaluate, steps,
        };
        command.SetAction(p => CommandRunner.Run(() =>
        {
            var methods = Methods(p.GetValue(method)!);
            var layerChoices = p.GetValue(layers) is { Length: > 0 } given ? given : ["auto"];
            if (!p.GetValue(evaluate) && (methods.Count > 1 || layerChoices.Length > 1))
                return CommandRunner.Fail("several --method or --layers values are for --evaluate; explain with one of each");
            var camTarget = CamTarget.Parse(p.GetValue(target)!);
            var progress = new PerturbationProgress();
            var perturbation = new PerturbationOptions(p.GetValue(seed), p.GetValue(samples), p.GetValue(perturbationBatch), progress).Validated();
            var options = new DetectorOptions(p.GetValue(imgSize), new NmsOptions(p.GetValue(conf), p.GetValue(iou)), CommonOptions.ResolveDevice(p.GetValue(device), p.GetValue(tf32)),
                Backend: p.GetValue(backend));
            var files = ImageFiles.Resolve(p.GetValue(source)!);
            using var detector = new Detector(YoloModel.Load(p.GetValue(weights)!.FullName, fuse: !p.GetValue(noFuse)), options, ownsModel: true);
            var selections = layerChoices.Select(l => LayerSelection.Parse(l, detector.Model)).ToArray();
            string outDir = OutputFolder.Create(p.GetValue(project)!, p.GetValue(name)!, p.GetValue(existOk));
            if (p.GetValue(evaluate))
            {
                var evaluation = new ExplainEvaluation(detector, methods.Select(CamMethods.Create).ToArray(), camTarget, selections, perturbation, p.GetValue(steps), p.GetValue(topK), progress);
                return evaluation.Run(files, outDir);
            }
            var explainer = new CamExplainer(detector.Model, CamMethods.Create(methods[0]), camTarget, selections[0], perturbation);
            int failures = 0;
            foreach (var file in files)
            {
                if (!progress.Follow($"{explainer.Method.Name}: {Path.GetFileName(file)}",
                        () => ExplainImage(file, detector, explainer, p.GetValue(topK), outDir, p.GetValue(saveNpy), p.GetValue(alpha), p.GetValue(inBox))))
                    failures++;
            }
            Console.WriteLine($"results saved to {outDir}");
            return failures == 0 ? 0 : CommandRunner.Fail($"{failures} of {files.Count} image(s) could not be read");
        }));
        return command;
    }

    // "all" or a comma-separated list of registered method names.
    private static IReadOnlyList<string> Methods(string text)
    {
        if (text.Trim().Equals("all", StringComparison.OrdinalIgnoreCase)) return CamMethods.All.Select(e => e.Name).ToArray();
        var names = text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (names.Length == 0) throw new UserInputException($"--method: name at least one of {CamMethods.Names}");
        return names.Select(n => CamMethods.Create(n).Name).Distinct().ToArray();
    }

    private static string Ms(double ms) => ms.ToString("0.0", CultureInfo.InvariantCulture) + " ms";

    // Each output is written beside its place and then moved there: a file that cannot be written whole (a full disk,
    // no permission, a folder in the way) leaves neither a truncated file nor a damaged one from an earlier run, and the
    // command stops with its name.
    private static void WriteFile(string path, Action<string> write)
    {
        string partial = Path.Combine(Path.GetDirectoryName(path) ?? ".", $"{Path.GetFileNameWithoutExtension(path)}.partial{Path.GetExtension(path)}");
        try
        {
            write(partial);
            File.Move(partial, path, overwrite: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or OpenCVException)
        {
            TryDelete(partial);
            string why = e switch
            {
                UnauthorizedAccessException => "no permission, or a folder in the way",
                OpenCVException => "disk full, or no permission?",
                _ when Directory.Exists(path) => "a folder of that name is in the way",
                _ => e.Message.Replace($" : '{partial}'", "", StringComparison.Ordinal).Replace($" : '{path}'", "", StringComparison.Ordinal),
            };
            throw new IOException($"{path}: could not be written ({why})", e);
        }
    }

    private static void WriteImage(string path, Mat image) => WriteFile(path, file =>
    {
        if (!Cv2.ImWrite(file, image)) throw new IOException("disk full, or no permission?");
    });

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // left as it is: the error names the file
        }
    }

    private static bool ExplainImage(string path, Detector detector, CamExplainer explainer, int topK, string outDir, bool saveNpy, double alpha, bool inBox)
    {
        using var frame = Cv2.ImRead(path, ImreadModes.Color);
        if (frame.Empty())
        {
            Console.Error.WriteLine($"error: {path}: cannot read image (missing, corrupt or not an image)");
            return false;
        }
        string stem = Path.GetFileNameWithoutExtension(path);
        // One forward pass detects and serves the explanations.
        var result = detector.Detect([frame], explainer, topK)[0];
        var chosen = result.Detections.Take(topK).ToArray();
        var explanations = result.Explanations ?? [];

        var frameMaps = new List<Mat>();
        var records = new List<object>();
        try
        {
            for (int i = 0; i < explanations.Count; i++)
            {
                var e = explanations[i];
                var files = new List<string>();
                foreach (var map in e.Maps)
                {
                    var onFrame = FrameMaps.ToFrame(map, result.Geometry);
                    if (inBox) FrameMaps.NormaliseInsideBox(onFrame, e.Detection.Box);
                    frameMaps.Add(onFrame);
                    using var canvas = frame.Clone();
                    HeatmapRenderer.Blend(canvas, onFrame, alpha);
                    DetectionRenderer.Draw(canvas, [e.Detection]);
                    WriteImage(Path.Combine(outDir, $"{stem}.det{i}.{map.Layer}.png"), canvas);
                    if (saveNpy)
                    {
                        string npy = $"{stem}.{explainer.Method.Name}.{map.Layer}.det{i}.npy";
                        WriteFile(Path.Combine(outDir, npy), file => NpyArray.Write(file, map.Values, [map.Height, map.Width]));
                        files.Add(npy);
                    }
                }
                records.Add(new
                {
                    index = i,
                    box_input = e.Detection.InputBox.ToArray(),
                    box = e.Detection.Box.ToArray(),
                    class_id = e.Detection.ClassId,
                    class_name = e.Detection.ClassName,
                    confidence = e.Detection.Confidence,
                    layers = e.Maps.Select(m => m.Layer).ToArray(),
                    maps = files,
                });
            }
            using var combinedCanvas = frame.Clone();
            if (frameMaps.Count > 0)
            {
                using var combined = FrameMaps.Combine(frameMaps);
                HeatmapRenderer.Blend(combinedCanvas, combined, alpha);
            }
            DetectionRenderer.Draw(combinedCanvas, chosen);
            WriteImage(Path.Combine(outDir, $"{stem}.combined.png"), combinedCanvas);
        }
        finally
        {
            foreach (var m in frameMaps) m.Dispose();
        }

        if (saveNpy)
        {
            var json = new
            {
                source = path,
                method = explainer.Method.Name,
                target = explainer.Target.Name,
                input_shape = new[] { 1, 3, result.Geometry.InputHeight, result.Geometry.InputWidth },
                detections = records,
            };
            WriteFile(Path.Combine(outDir, $"{stem}.json"), file => File.WriteAllText(file, JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true })));
        }
        var t = result.Timings;
        Console.WriteLine($"{path}: {result.Detections.Count} detection(s), explained {explanations.Count} with {explainer.Method.Name} at {(explainer.Method.ExplainsInput ? "the input" : explainer.Layers)}; " +
            $"forward {Ms(t.ForwardMs)}, nms {Ms(t.NmsMs)}, explain {Ms(t.ExplainMs)}");
        return true;
    }
}
