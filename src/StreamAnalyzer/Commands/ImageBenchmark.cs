using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Model.Onnx;
using StreamAnalyzer.Pipeline.Runtime;
using static TorchSharp.torch;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>`bench` on an image: the forward pass per backend, then detection and detection + explanation per stage.</summary>
internal static class ImageBenchmark
{
    public static void Run(Detector detector, CamExplainer explainer, string path, int topK, int runs, int batch, FileInfo? compareOnnx, Dictionary<string, object> report)
    {
        using var frame = Cv2.ImRead(path, ImreadModes.Color);
        if (frame.Empty()) throw new UserInputException($"{path}: cannot read image");
        // The forward pass alone is timed on a square --img-size input, as fixed-size exported models take it; a batch
        // holds copies of the image.
        var (letterboxed, geometry) = Letterbox.Apply(frame, detector.LetterboxSettings with { Auto = false });
        using var _ = letterboxed;
        using var input = InputTensor.FromImages(Enumerable.Repeat(letterboxed, batch).ToArray(), detector.Device);
        using var modelInput = detector.Options.Half ? input.half() : input.alias();
        var model = detector.Model;
        var device = detector.Device;
        Console.WriteLine($"{runs} runs{(batch > 1 ? $" of a batch of {batch}" : "")}; milliseconds: median, 95th percentile");

        // 1. The forward pass alone, per backend (the comparison with other runtimes), in blocks taken in turns so that
        //    a machine that speeds up or slows down during the run affects every backend alike. A pause between blocks
        //    lets the previous runtime's worker threads stop spinning before the next one starts (libgomp's and
        //    ONNX Runtime's spin for up to a few hundred milliseconds).
        var runners = new List<(string Name, Action Run)>
        {
            ("torch", () =>
            {
                using var scope = NewDisposeScope();
                using var mode = inference_mode();
                model.forward(modelInput);
                BenchCommand.Synchronize(device);
            }),
        };
        using var onnx = device.type == TorchSharp.DeviceType.CPU ? new OnnxRuntimeModel(model, get_num_threads()) : null;
        if (onnx is not null)
        {
            onnx.Prepare(batch, geometry.InputHeight, geometry.InputWidth);
            runners.Add(("onnx", () =>
            {
                using var scope = NewDisposeScope();
                onnx.Run(input);
            }));
        }
        using var file = compareOnnx is null ? null : OnnxFile.Open(compareOnnx.FullName, input);
        if (file is not null) runners.Add(($"onnx file {compareOnnx!.Name}", file.Run));
        var forward = runners.ToDictionary(r => r.Name, _ => new BenchSamples());
        const int block = 5;
        for (int done = 0, turn = 0; done < runs; done += block, turn++)
        {
            // Each block starts with the next runner, so none always follows the same one (whose threads may still spin).
            foreach (var (name, run) in runners.Skip(turn % runners.Count).Concat(runners.Take(turn % runners.Count)))
            {
                Thread.Sleep(300);
                run(); // warm-up of the block
                for (int i = done; i < Math.Min(runs, done + block); i++)
                {
                    var clock = System.Diagnostics.Stopwatch.StartNew();
                    run();
                    forward[name].Add(clock.Elapsed.TotalMilliseconds);
                }
            }
        }
        string batchNote = batch > 1 ? $", batch {batch}" : "";
        Console.WriteLine($"forward pass only, {geometry.InputWidth}x{geometry.InputHeight}{batchNote}  median      p95");
        foreach (var (name, samples) in forward) Console.WriteLine($"  {name,-26}{samples}");

        // 2. Detection, and detection + explanation from the same forward pass, per stage.
        //    The stages are per image (a batch's time divided by its size), the total per batch.
        var frames = Enumerable.Repeat(frame, batch).ToArray();
        var (plain, explained) = Stages(runs, () => detector.Detect(frames)[0], () => detector.Detect(frames, explainer, topK)[0]);
        int k = detector.Detect([frame], explainer, topK)[0].Explanations?.Count ?? 0;
        var detectGeometry = Letterbox.Plan(frame.Width, frame.Height, detector.LetterboxSettings);
        string perImage = batch > 1 ? $"; batch {batch}: stages per image, total per batch" : "";
        Console.WriteLine($"detect ({detector.Backend.ToString().ToLowerInvariant()}, {detectGeometry.InputWidth}x{detectGeometry.InputHeight}{perImage})");
        Print(plain);
        Console.WriteLine($"detect + explain top {k} ({explainer.Method.Name} at {explainer.Layers}{perImage})");
        Print(explained);
        double added = explained["total"].Median - plain["total"].Median;
        double ratio = added / plain["total"].Median;
        Console.WriteLine($"explanation cost    {BenchCommand.Ms(added)} = {ratio:P0} of detection ({k * batch} detection(s){(batch > 1 ? $" in a batch of {batch}" : "")})");
        if (batch > 1)
            Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"images per second   {1000 * batch / plain["total"].Median:0} detecting, {1000 * batch / explained["total"].Median:0} detecting and explaining"));
        if (k < topK) Console.WriteLine($"note: only {k} detection(s) above --conf-thres");

        report["forward_input"] = new[] { geometry.InputHeight, geometry.InputWidth };
        report["detect_input"] = new[] { detectGeometry.InputHeight, detectGeometry.InputWidth };
        report["forward"] = forward.ToDictionary(kv => kv.Key, kv => kv.Value.ToJson());
        report["detect"] = plain.ToDictionary(kv => kv.Key, kv => kv.Value.ToJson());
        report["detect_explain"] = explained.ToDictionary(kv => kv.Key, kv => kv.Value.ToJson());
        report["explanation"] = new { method = explainer.Method.Name, layers = explainer.Layers.ToString(), detections = k * batch, added_ms = Math.Round(added, 2), ratio = Math.Round(ratio, 3) };
    }

    // The two are taken in turns, so that a machine that speeds up or slows down affects both alike.
    private static (Dictionary<string, BenchSamples> Plain, Dictionary<string, BenchSamples> Explained) Stages(
        int runs, Func<DetectionResult> plain, Func<DetectionResult> explained)
    {
        var result = (Plain: NewStages(), Explained: NewStages());
        for (int i = 0; i < 3; i++)
        {
            plain();
            explained();
        }
        for (int i = 0; i < runs; i++)
        {
            Measure(plain, result.Plain);
            Measure(explained, result.Explained);
        }
        return result;
    }

    private static Dictionary<string, BenchSamples> NewStages() =>
        new[] { "total", "preprocess", "forward", "nms", "explain" }.ToDictionary(s => s, _ => new BenchSamples());

    private static void Measure(Func<DetectionResult> detect, Dictionary<string, BenchSamples> stages)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var t = detect().Timings;
        stages["total"].Add(clock.Elapsed.TotalMilliseconds);
        stages["preprocess"].Add(t.PreprocessMs);
        stages["forward"].Add(t.ForwardMs);
        stages["nms"].Add(t.NmsMs);
        stages["explain"].Add(t.ExplainMs);
    }

    private static void Print(Dictionary<string, BenchSamples> stages)
    {
        foreach (var (name, samples) in stages)
            if (name != "explain" || samples.Median > 0) Console.WriteLine($"  {name,-26}{samples}");
    }

    /// <summary>An ONNX file (e.g. exported by upstream code) on ONNX Runtime with the benchmark's input and threads.</summary>
    private sealed class OnnxFile : IDisposable
    {
        private readonly SessionOptions _options;
        private readonly InferenceSession _session;
        private readonly NamedOnnxValue _input;

        private OnnxFile(SessionOptions options, InferenceSession session, NamedOnnxValue input)
        {
            _options = options;
            _session = session;
            _input = input;
        }

        public static OnnxFile Open(string path, TorchSharp.torch.Tensor input)
        {
            // The same session settings as the project's own sessions outside a pipeline (OnnxRuntimeModel: ONNX Runtime's
            // defaults but the optimisation level and threads), so only the graphs differ.
            var options = new SessionOptions
            {
                GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
                IntraOpNumThreads = Math.Max(1, get_num_threads()),
                InterOpNumThreads = 1,
                ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            };
            InferenceSession session;
            try
            {
                session = new InferenceSession(path, options);
            }
            catch (OnnxRuntimeException e)
            {
                options.Dispose();
                throw new UserInputException($"--compare-onnx {path}: ONNX Runtime cannot load it as a model ({e.Message.Trim()})", e);
            }
            var (name, meta) = session.InputMetadata.First();
            var dims = meta.Dimensions;
            if (dims.Length != 4 || (dims[0] > 0 && dims[0] != input.shape[0]) || (dims[2] > 0 && dims[2] != input.shape[2]) || (dims[3] > 0 && dims[3] != input.shape[3]))
            {
                session.Dispose();
                options.Dispose();
                throw new UserInputException($"--compare-onnx {path}: its input is ({string.Join(", ", dims)}), the benchmark's ({input.shape[0]}, 3, {input.shape[2]}, {input.shape[3]}); use a matching --img-size and --batch");
            }
            using var host = input.cpu();
            var value = new DenseTensor<float>(host.data<float>().ToArray(), [(int)input.shape[0], 3, (int)input.shape[2], (int)input.shape[3]]);
            return new OnnxFile(options, session, NamedOnnxValue.CreateFromTensor(name, value));
        }

        public void Run()
        {
            using var results = _session.Run([_input]);
        }

        public void Dispose()
        {
            _session.Dispose();
            _options.Dispose();
        }
    }
}
