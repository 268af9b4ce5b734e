using System.CommandLine;
using System.Globalization;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Rendering;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Sinks;
using StreamAnalyzer.Pipeline.Sources;

namespace StreamAnalyzer.Cli.Commands;

/// <summary><c>stream-analyzer detect</c>: detection on images, folders and globs, as yolov7's detect.py.</summary>
internal static class DetectCommand
{
    public static Command Create()
    {
        var weights = CommonOptions.Weights();
        var source = new Option<string>("--source") { Description = "image file, folder of images, or glob (e.g. 'dir/*.jpg')", Required = true };
        var detection = new DetectionOptions();
        var project = new Option<string>("--project") { Description = "results go to <project>/<name>", DefaultValueFactory = _ => Path.Combine("runs", "detect") };
        var name = new Option<string>("--name") { Description = "results folder name (exp, exp2, ... when it exists)", DefaultValueFactory = _ => "exp" };
        var existOk = new Option<bool>("--exist-ok") { Description = "reuse <project>/<name> instead of incrementing" };
        var noSave = new Option<bool>("--nosave") { Description = "do not write annotated images" };
        var saveJson = new Option<FileInfo?>("--save-json") { Description = "write one JSON line per image (JSON Lines) to this file" };
        var batch = new Option<int>("--batch") { Description = "images per forward pass", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var command = new Command("detect", "Detect objects in images and write annotated copies (and JSON lines)")
        {
            weights, source, project, name, existOk, noSave, saveJson, batch,
        };
        detection.AddTo(command, 2);
        command.SetAction(p => CommandRunner.Run(() =>
        {
            var options = detection.Read(p);
            var json = p.GetValue(saveJson);
            if (json is not null) OutputLocation.EnsureFile(json.FullName, "--save-json");
            Func<string?> outDir = () => p.GetValue(noSave) ? null : OutputFolder.Create(p.GetValue(project)!, p.GetValue(name)!, p.GetValue(existOk));
            return Execute(p.GetValue(weights)!.FullName, p.GetValue(source)!, options, outDir, json, p.GetValue(batch));
        }));
        return command;
    }

    private static int Execute(string weights, string source, DetectorOptions options, Func<string?> makeOutDir, FileInfo? saveJson, int batchSize)
    {
        var files = ImageFiles.Resolve(source);
        using var detector = Detector.Load(weights, options);
        DetectionOptions.NoteImageSize(detector);
        // Made once the model has loaded and accepted the settings (e.g. --classes), so a refused run leaves no empty folder.
        string? outDir = makeOutDir();
        using var json = saveJson is null ? null : new JsonLinesWriter(saveJson.FullName);
        var failures = new List<string>();
        int done = 0, detections = 0, saved = 0;
        void Failed(string path, string reason)
        {
            failures.Add(path);
            Console.Error.WriteLine($"error: {path}: {reason}");
        }

        int number = 0; // the image's place in the list, for "image k/N"
        foreach (var chunk in files.Chunk(batchSize))
        {
            var frames = new List<(string Path, Mat Frame, int Number)>();
            try
            {
                foreach (var path in chunk)
                {
                    number++;
                    var frame = Cv2.ImRead(path, ImreadModes.Color);
                    if (frame.Empty())
                    {
                        frame.Dispose();
                        Failed(path, "cannot read image (missing, corrupt or not an image)");
                        continue;
                    }
                    frames.Add((path, frame, number));
                }
                if (frames.Count == 0) continue;
                IReadOnlyList<DetectionResult> results;
                try
                {
                    results = detector.Detect(frames.Select(f => f.Frame).ToArray());
                }
                catch (Exception e) when (e is OpenCVException or ArgumentException or UserInputException)
                {
                    // One odd image must not take the batch down: retry each alone to find it.
                    results = frames.Select(f => DetectOne(detector, f.Path, f.Frame, Failed)).OfType<DetectionResult>().ToArray();
                    frames = frames.Where(f => !failures.Contains(f.Path)).ToList();
                }
                for (int i = 0; i < frames.Count; i++)
                {
                    var (path, frame, k) = frames[i];
                    var result = results[i];
                    done++;
                    detections += result.Detections.Count;
                    Console.WriteLine($"image {k}/{files.Count} {path}: {result.Geometry.InputHeight}x{result.Geometry.InputWidth} " +
                        $"{Summary(result)}Done. ({Ms(result.Timings.ForwardMs)}) Inference, ({Ms(result.Timings.NmsMs)}) NMS");
                    json?.Write(DetectionRecord.From(path, result));
                    if (outDir is null) continue;
                    DetectionRenderer.Draw(frame, result.Detections);
                    string output = Path.Combine(outDir, Path.GetFileName(path));
                    if (Cv2.ImWrite(output, frame)) saved++;
                    else Failed(path, $"the annotated image could not be written to {output} (disk full, or no permission?)");
                }
            }
            finally
            {
                foreach (var (_, frame, _) in frames) frame.Dispose();
            }
        }

        Console.WriteLine($"{done} image(s), {detections} detection(s)" +
            (outDir is null ? "" : $"; {saved} annotated image(s) saved to {outDir}") + (json is null ? "" : $"; JSON lines in {json.Path}"));
        if (failures.Count == 0) return 0;
        return CommandRunner.Fail($"{failures.Distinct().Count()} of {files.Count} image(s) failed: {string.Join(", ", failures.Distinct())}");
    }

    private static DetectionResult? DetectOne(Detector detector, string path, Mat frame, Action<string, string> failed)
    {
        try
        {
            return detector.Detect(frame);
        }
        catch (Exception e) when (e is OpenCVException or ArgumentException or UserInputException)
        {
            failed(path, $"cannot be processed ({frame.Width}x{frame.Height}): {e.Message}");
            return null;
        }
    }

    private static string Summary(DetectionResult result) => string.Concat(result.Detections.GroupBy(d => d.ClassName)
        .Select(g => $"{g.Count()} {g.Key}{(g.Count() > 1 ? "s" : "")}, "));

    private static string Ms(double ms) => ms.ToString("0.0", CultureInfo.InvariantCulture) + "ms";
}
