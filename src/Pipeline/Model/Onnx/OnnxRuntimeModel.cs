using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Onnx;

/// <summary>
/// Runs a loaded <see cref="YoloModel"/> with ONNX Runtime on the CPU: the graph is built from the model itself
/// (<see cref="OnnxExport"/>) for each input size met (and each set of layers whose activations are asked for),
/// optimised by ONNX Runtime once, and kept. Gradients stay with TorchSharp; this is the fast path for everything
/// else.
/// </summary>
public sealed class OnnxRuntimeModel : IDisposable
{
    private readonly YoloModel _model;
    private readonly ConcurrentDictionary<(int Threads, bool Spin), SessionOptions> _options = new();
    private readonly ConcurrentDictionary<(int B, int H, int W, string Layers, int Threads, bool Spin), Lazy<InferenceSession>> _sessions = new();

    /// <summary>Prepares to run <paramref name="model"/> (already fused) with <paramref name="threads"/> intra-op threads.</summary>
    public OnnxRuntimeModel(YoloModel model, int threads)
    {
        _model = model;
        Threads = threads;
    }

    /// <summary>
    /// Intra-op threads of the runs that follow (at least 1). Sessions are safe to run from several threads at once:
    /// inference workers that each take a share of the cores set this to their share.
    /// </summary>
    public int Threads
    {
        get;
        set => field = Math.Max(1, value);
    }

    /// <summary>
    /// Whether the intra-op threads spin between the parts of a run (ONNX Runtime's default: the lowest latency when
    /// nothing else needs the cores); they stop spinning as soon as the run returns. A pipeline whose other stages share
    /// the cores turns it off: spinning threads would take the CPU that decoding, rendering and encoding need. Only
    /// matters with more than one thread.
    /// </summary>
    public bool SpinWhileWaiting { get; set; } = true;

    /// <summary>Builds (and keeps) the session for an input shape ahead of the first frame, so the first frame is not slow.</summary>
    public void Prepare(int batch, int height, int width, IReadOnlyCollection<int>? layers = null) => Session(batch, height, width, layers ?? []);

    /// <summary>
    /// Builds (and keeps) the session that runs with <paramref name="threads"/> intra-op threads and
    /// <paramref name="spin"/> will use, whatever <see cref="Threads"/> and <see cref="SpinWhileWaiting"/> are now (a
    /// pipeline prepares on another thread while setting them for its workers).
    /// </summary>
    public void Prepare(int batch, int height, int width, IReadOnlyCollection<int> layers, int threads, bool spin) =>
        Session(batch, height, width, layers, Math.Max(1, threads), spin);

    /// <summary>
    /// Runs a (B, 3, H, W) float32 CPU batch. Returns <c>pred</c> and the asked-for layers' outputs as TorchSharp
    /// tensors owned by the caller's dispose scope (<c>Logits</c> is empty: gradients come from TorchSharp).
    /// </summary>
    public ModelOutput Run(Tensor input, IReadOnlyCollection<int>? layers = null)
    {
        layers ??= [];
        int b = (int)input.shape[0], h = (int)input.shape[2], w = (int)input.shape[3];
        var session = Session(b, h, w, layers);
        var x = input.to(ScalarType.Float32).contiguous();
        var names = new List<string> { "pred" };
        names.AddRange(layers.Order().Select(OnnxExport.LayerOutput));
        unsafe
        {
            fixed (byte* data = x.bytes)
            {
                using var value = OrtValue.CreateTensorValueWithData(OrtMemoryInfo.DefaultInstance, Microsoft.ML.OnnxRuntime.Tensors.TensorElementType.Float,
                    x.shape, (IntPtr)data, x.bytes.Length);
                using var run = new RunOptions();
                using var results = session.Run(run, [OnnxGraph.Input], [value], names);
                var tensors = results.Select(ToTorch).ToArray();
                var activations = layers.Order().Select((layer, k) => (layer, tensors[1 + k])).ToDictionary(p => p.layer, p => p.Item2);
                return new ModelOutput(tensors[0], empty(0), activations, new Dictionary<string, Tensor>(), h, w);
            }
        }
    }

    private static Tensor ToTorch(OrtValue value)
    {
        var shape = value.GetTensorTypeAndShape().Shape;
        var t = empty(shape, ScalarType.Float32);
        value.GetTensorDataAsSpan<float>().CopyTo(MemoryMarshal.Cast<byte, float>(t.bytes));
        return t;
    }

    // Lazy: two workers meeting a new shape at once build its session once.
    private InferenceSession Session(int b, int h, int w, IReadOnlyCollection<int> layers) => Session(b, h, w, layers, Threads, SpinWhileWaiting);

    private InferenceSession Session(int b, int h, int w, IReadOnlyCollection<int> layers, int threads, bool spin) =>
        _sessions.GetOrAdd((b, h, w, string.Join(",", layers.Order()), threads, spin && threads > 1), key => new Lazy<InferenceSession>(() =>
            new InferenceSession(OnnxExport.Build(_model, key.B, key.H, key.W, layers).ToByteArray(), Options(key.Threads, key.Spin)))).Value;

    private SessionOptions Options(int threads, bool spin) => _options.GetOrAdd((threads, spin), key =>
    {
        var options = new SessionOptions
        {
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
            IntraOpNumThreads = key.Threads,
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
        };
        options.AddSessionConfigEntry("session.intra_op.allow_spinning", key.Spin ? "1" : "0");
        // Spinning ends when a run returns instead of going on for a while: the explanation's libtorch work, another
        // session (plain and explaining ones take turns) or the next stage gets the cores at once. Left spinning, a
        // session's idle threads took about half the cores from what followed (bench: detection 33-43 ms against
        // 17-18 ms, the explain step 15-19 against 12-16 ms, yolov8n at 320).
        if (key.Spin) options.AddSessionConfigEntry("session.force_spinning_stop", "1");
        return options;
    });

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var s in _sessions.Values.Where(s => s.IsValueCreated)) s.Value.Dispose();
        _sessions.Clear();
        foreach (var o in _options.Values) o.Dispose();
        _options.Clear();
    }
}
