using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using OpenCvSharp;
using Spectre.Console;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Explainers.Faithfulness;
using StreamAnalyzer.Pipeline.Explainers.Methods;
using StreamAnalyzer.Pipeline.Explainers.Perturbation;
using StreamAnalyzer.Pipeline.Explainers.Targets;
using static TorchSharp.torch;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>
/// <c>explain --evaluate</c>: every method x layers choice on every image's top-K detections, scored by deletion and
/// insertion AUC (<see cref="FaithfulnessEvaluator"/>), mass in box and time per map, next to a random map scored
/// the same way; printed as a table and written as evaluation.csv, evaluation.json (every map's figures and curves)
/// and evaluation.png.
/// </summary>
internal sealed class ExplainEvaluation(Detector detector, IReadOnlyList<CamMethod> methods, CamTarget target, IReadOnlyList<LayerSelection> selections,
    PerturbationOptions perturbation, int steps, int topK, PerturbationProgress progress)
{
    private const string RandomMethod = "random";

    private sealed record MapScore(string Image, int Detection, string ClassName, float Confidence, string Method, string Layers, string Layer,
        double DeletionAuc, double InsertionAuc, double MassInBox, double MsPerMap, IReadOnlyList<float> Deletion, IReadOnlyList<float> Insertion);

    /// <summary>One line of the table: a method at a layer choice, averaged over the maps.</summary>
    private sealed record Row(string Method, string Layers, int Maps, double DeletionAuc, double InsertionAuc, double MassInBox, double MsPerMap);

    public int Run(IReadOnlyList<string> files, string outDir)
    {
        // drise and lime explain the input: one choice each, whatever --layers says.
        var choices = methods.SelectMany(m => m.ExplainsInput
                ? [new CamExplainer(detector.Model, m, target, LayerSelection.Auto, perturbation)]
                : selections.Select(s => new CamExplainer(detector.Model, m, target, s, perturbation)))
            .ToArray();
        var evaluator = new FaithfulnessEvaluator(detector.Model, perturbation, steps, detector.OnnxRuntime);
        var scores = new List<MapScore>();
        int failures = 0;
        foreach (var file in files)
        {
            using var frame = Cv2.ImRead(file, ImreadModes.Color);
            if (frame.Empty())
            {
                Console.Error.WriteLine($"error: {file}: cannot read image (missing, corrupt or not an image)");
                failures++;
                continue;
            }
            string image = Path.GetFileName(file);
            using var scope = NewDisposeScope();
            var (letterboxed, _) = Letterbox.Apply(frame, detector.LetterboxSettings);
            Tensor input;
            using (letterboxed) input = InputTensor.FromImages([letterboxed], detector.Device)[0];
            var detections = detector.Detect(frame).Detections.Take(topK).ToArray();
            for (int i = 0; i < detections.Length; i++)
            {
                var d = detections[i];
                var random = FaithfulnessEvaluator.RandomMap((int)input.shape[1], (int)input.shape[2], perturbation.Seed + i);
                var score = progress.Follow($"faithfulness of a random map: {image}", () => evaluator.Evaluate(input, d, random));
                var mass = new CamMap(RandomMethod, (int)input.shape[2], (int)input.shape[1], random, false).MassInside(d.InputBox);
                scores.Add(new MapScore(image, i, d.ClassName, d.Confidence, RandomMethod, "-", "-", score.DeletionAuc, score.InsertionAuc, mass, 0, score.Deletion, score.Insertion));
            }
            foreach (var explainer in choices)
            {
                string layers = explainer.Method.ExplainsInput ? "input" : explainer.Layers.ToString();
                var clock = Stopwatch.StartNew();
                var result = progress.Follow($"{explainer.Method.Name} at {layers}: {image}", () => detector.Detect([frame], explainer, topK)[0]);
                var explanations = result.Explanations ?? [];
                int maps = Math.Max(1, explanations.Sum(e => e.Maps.Count));
                double msPerMap = result.Timings.ExplainMs / maps;
                foreach (var (e, i) in explanations.Select((e, i) => (e, i)))
                {
                    foreach (var map in e.Maps)
                    {
                        var score = progress.Follow($"faithfulness of {explainer.Method.Name} at {layers}: {image}", () => evaluator.Evaluate(input, e.Detection, map.Values));
                        scores.Add(new MapScore(image, i, e.Detection.ClassName, e.Detection.Confidence, explainer.Method.Name, layers, map.Layer,
                            score.DeletionAuc, score.InsertionAuc, map.MassInside(e.Detection.InputBox), msPerMap, score.Deletion, score.Insertion));
                    }
                }
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"{image}: {explainer.Method.Name} at {layers}: {explanations.Count} detection(s), {msPerMap:0.0} ms per map, scored in {clock.Elapsed.TotalSeconds:0.0} s"));
            }
        }
        if (scores.Count == 0) return CommandRunner.Fail("no detections to evaluate");
        // Explicit layer lists give one map per layer: each is its own row, as is each choice.
        var rows = scores.GroupBy(s => (s.Method, Layers: s.Layers is "auto" or "neck" or "input" or "-" ? s.Layers : s.Layer))
            .Select(g => new Row(g.Key.Method, g.Key.Layers, g.Count(), g.Average(s => s.DeletionAuc), g.Average(s => s.InsertionAuc),
                g.Average(s => s.MassInBox), g.Average(s => s.MsPerMap)))
            .OrderBy(r => r.Method == RandomMethod ? 1 : 0).ThenBy(r => r.DeletionAuc)
            .ToArray();
        Print(rows);
        Write(rows, scores, outDir);
        Console.WriteLine($"results saved to {outDir}");
        return failures == 0 ? 0 : CommandRunner.Fail($"{failures} of {files.Count} image(s) could not be read");
    }

    private void Print(IReadOnlyList<Row> rows)
    {
        var table = new Table().AddColumns("method", "layers", "maps", "deletion AUC", "insertion AUC", "mass in box", "ms per map");
        foreach (var r in rows)
            table.AddRow(r.Method, r.Layers, r.Maps.ToString(CultureInfo.InvariantCulture), F(r.DeletionAuc), F(r.InsertionAuc), F(r.MassInBox),
                r.Method == RandomMethod ? "-" : r.MsPerMap.ToString("0.0", CultureInfo.InvariantCulture));
        table.Caption($"deletion AUC: lower is better; insertion AUC: higher is better. {steps} steps per curve, seed {perturbation.Seed}, top {topK} detections per image");
        AnsiConsole.Write(table);
    }

    private static string F(double v) => v.ToString("0.000", CultureInfo.InvariantCulture);

    private void Write(IReadOnlyList<Row> rows, IReadOnlyList<MapScore> scores, string outDir)
    {
        var csv = new List<string> { "method,layers,maps,deletion_auc,insertion_auc,mass_in_box,ms_per_map" };
        csv.AddRange(rows.Select(r => string.Join(",", r.Method, Quote(r.Layers), r.Maps.ToString(CultureInfo.InvariantCulture), F(r.DeletionAuc), F(r.InsertionAuc), F(r.MassInBox),
            r.MsPerMap.ToString("0.00", CultureInfo.InvariantCulture))));
        File.WriteAllLines(Path.Combine(outDir, "evaluation.csv"), csv);
        var json = new
        {
            steps,
            seed = perturbation.Seed,
            top_k = topK,
            target = target.Name,
            rows = rows.Select(r => new { method = r.Method, layers = r.Layers, maps = r.Maps, deletion_auc = r.DeletionAuc, insertion_auc = r.InsertionAuc, mass_in_box = r.MassInBox, ms_per_map = r.MsPerMap }),
            maps = scores.Select(s => new
            {
                image = s.Image, detection = s.Detection, class_name = s.ClassName, confidence = s.Confidence, method = s.Method, layers = s.Layers, layer = s.Layer,
                deletion_auc = s.DeletionAuc, insertion_auc = s.InsertionAuc, mass_in_box = s.MassInBox, ms_per_map = s.MsPerMap, deletion = s.Deletion, insertion = s.Insertion,
            }),
        };
        File.WriteAllText(Path.Combine(outDir, "evaluation.json"), JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true }));
        EvaluationChart.Save(rows.Select(r => (r.Method == RandomMethod ? "random map" : $"{r.Method} @ {r.Layers}", r.DeletionAuc, r.InsertionAuc)).ToArray(),
            Path.Combine(outDir, "evaluation.png"));
    }

    private static string Quote(string s) => s.Contains(',') ? $"\"{s}\"" : s;
}
