using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Explainers.Methods;
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
        var method = CommonOptions.CamMethodOption("--method");
        var layers = new Option<string>("--layers") { Description = "auto (the head input at each detection's level), neck (head inputs and the layers feeding them, fused) or layer indices, e.g. 74,75,76", DefaultValueFactory = _ => "auto" };
        var topK = CommonOptions.TopK();
        var target = CommonOptions.CamTargetOption("--target");
        var imgSize = CommonOptions.ImageSize();
        var conf = CommonOptions.ConfThreshold(0.45f);
        var iou = CommonOptions.IouThreshold();
        var device = CommonOptions.Device();
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
            weights, source, method, layers, topK, target, imgSize, conf, iou, device, backend, saveNpy, alpha, inBox, project, name, existOk, noFuse,
        };
        command.SetAction(p => CommandRunner.Run(() =>
        {
            var camMethod = CamMethod.Parse(p.GetValue(method)!);
            var camTarget = CamTarget.Parse(p.GetValue(target)!);
            var options = new DetectorOptions(p.GetValue(imgSize), new NmsOptions(p.GetValue(conf), p.GetValue(iou)), ComputeDevice.Resolve(p.GetValue(device)),
                Backend: p.GetValue(backend));
            var files = ImageFiles.Resolve(p.GetValue(source)!);
            using var detector = new Detector(YoloModel.Load(p.GetValue(weights)!.FullName, fuse: !p.GetValue(noFuse)), options, ownsModel: true);
            var explainer = new CamExplainer(detector.Model, camMethod, camTarget, LayerSelection.Parse(p.GetValue(layers)!, detector.Model));
            string outDir = OutputFolder.Create(p.GetValue(project)!, p.GetValue(name)!, p.GetValue(existOk));
            int failures = 0;
            foreach (var file in files)
            {
                if (!ExplainImage(file, detector, explainer, p.GetValue(topK), outDir, p.GetValue(saveNpy), p.GetValue(alpha), p.GetValue(inBox)))
                    failures++;
            }
            Console.WriteLine($"results saved to {outDir}");
            return failures == 0 ? 0 : CommandRunner.Fail($"{failures} of {files.Count} image(s) could not be read");
        }));
        return command;
    }

    private static string Ms(double ms) => ms.ToString("0.0", CultureInfo.InvariantCulture) + " ms";

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
                    Cv2.ImWrite(Path.Combine(outDir, $"{stem}.det{i}.{map.Layer}.png"), canvas);
                    if (saveNpy)
                    {
                        string npy = $"{stem}.{explainer.Method.Name}.{map.Layer}.det{i}.npy";
                        NpyArray.Write(Path.Combine(outDir, npy), map.Values, [map.Height, map.Width]);
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
            Cv2.ImWrite(Path.Combine(outDir, $"{stem}.combined.png"), combinedCanvas);
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
            File.WriteAllText(Path.Combine(outDir, $"{stem}.json"), JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }));
        }
        var t = result.Timings;
        Console.WriteLine($"{path}: {result.Detections.Count} detection(s), explained {explanations.Count} with {explainer.Method.Name} at {explainer.Layers}; " +
            $"forward {Ms(t.ForwardMs)}, nms {Ms(t.NmsMs)}, explain {Ms(t.ExplainMs)}");
        return true;
    }
}
