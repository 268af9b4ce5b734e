using StreamAnalyzer.Pipeline.Checkpoints;
using StreamAnalyzer.Pipeline.Model.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model;

/// <summary>
/// A YOLO detection network of any supported family - YOLOv7 (P5 and P6, deploy and training architectures), YOLOv5,
/// Ultralytics YOLOv8/YOLO11/YOLOv5u - built from a checkpoint as users have it and numerically equivalent to the
/// family's own loading (<c>attempt_load</c> + <c>fuse()</c>, eval mode). Everything family-specific about its output
/// is described by <see cref="Layout"/>.
/// </summary>
public sealed class YoloModel : nn.Module<Tensor, Tensor>
{
    private readonly ModuleList<nn.Module> model;
    private readonly DetectionHead _head;
    private readonly int[] _lastUse;

    private YoloModel(NetworkBlueprint built, IReadOnlyList<string> names, ModelFamily family) : base(nameof(YoloModel))
    {
        model = nn.ModuleList(built.Layers.ToArray());
        _head = built.Head;
        Names = names;
        Family = family;
        HeadInputs = built.HeadFrom;
        int count = built.Layers.Count;
        _lastUse = new int[count];
        for (int i = 0; i < count; i++)
        {
            _lastUse[i] = i;
            foreach (var f in built.From[i]) if (f >= 0) _lastUse[f] = Math.Max(_lastUse[f], i);
        }
        Layers = Enumerable.Range(0, count).Select(i => new LayerInfo(i, built.From[i], built.Modules[i], 0, 0, null)).ToArray();
        RegisterComponents();
    }

    /// <summary>Class names from the checkpoint.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>The family the network belongs to (its checkpoint format and predict defaults).</summary>
    public ModelFamily Family { get; }

    /// <summary>How the head lays out its predictions.</summary>
    public PredictionLayout Layout => _head.Layout;

    /// <summary>The layers, in order, with their measured strides and the head inputs marked.</summary>
    public IReadOnlyList<LayerInfo> Layers { get; private set; }

    /// <summary>Indices of the layers that feed the detect head, one per level (P3, P4, P5[, P6]).</summary>
    public IReadOnlyList<int> HeadInputs { get; }

    /// <summary>The detect head.</summary>
    public DetectionHead Head => _head;

    /// <summary>Strides of the detection levels.</summary>
    public IReadOnlyList<float> Strides => _head.Strides;

    /// <summary>The largest stride: input sides must be multiples of it.</summary>
    public int MaxStride => (int)_head.Strides.Max();

    /// <summary>Number of classes.</summary>
    public int NumClasses => _head.NumClasses;

    /// <summary>
    /// The detection level (0 = P3) of a prediction row for an input of <paramref name="height"/> x <paramref name="width"/>
    /// (rows are ordered level, anchor, grid row, grid column).
    /// </summary>
    public int LevelOfRow(int row, int height, int width) => Layout.Locate(row, height, width).Level;

    /// <summary>Index of the head layer (the last one).</summary>
    public int HeadIndex => Layers.Count - 1;

    /// <summary>
    /// The detection levels that the output of <paramref name="layer"/> (or of its submodule <paramref name="submodule"/>)
    /// influences. A submodule of the head serves its own level only.
    /// </summary>
    public IReadOnlySet<int> LevelsFedBy(int layer, string? submodule = null)
    {
        if (layer == HeadIndex)
            return submodule is not null && _head.LevelOfSubmodule(submodule) is int level ? new HashSet<int> { level } : Enumerable.Range(0, _head.NumLevels).ToHashSet();
        var reach = new bool[Layers.Count];
        reach[layer] = true;
        for (int i = layer + 1; i < Layers.Count; i++) reach[i] = Layers[i].From.Any(f => f >= 0 && reach[f]);
        return HeadInputs.Select((l, level) => (l, level)).Where(p => reach[p.l]).Select(p => p.level).ToHashSet();
    }

    /// <summary>
    /// A prediction from <see cref="forward"/> (B, N, columns) in the shape the family's upstream returns it:
    /// unchanged for YOLOv5/YOLOv7, (B, columns, N) for Ultralytics. A new tensor or <paramref name="pred"/> itself.
    /// </summary>
    public Tensor ToUpstreamLayout(Tensor pred) => Layout.UpstreamChannelsFirst ? pred.transpose(1, 2).contiguous() : pred;

    /// <summary>True once <see cref="Fuse"/> has run.</summary>
    public bool IsFused { get; private set; }

    /// <summary>Reads <paramref name="path"/>, recognises its family, builds the network, binds its weights and (by default) fuses it.</summary>
    /// <exception cref="CheckpointException">The file cannot be read or does not match its architecture.</exception>
    public static YoloModel Load(string path, bool fuse = true) => FromCheckpoint(YoloCheckpoint.Load(path), fuse);

    /// <summary>Builds the network of an already-read checkpoint.</summary>
    public static YoloModel FromCheckpoint(YoloCheckpoint checkpoint, bool fuse = true)
    {
        try
        {
            var family = ModelFamily.Of(checkpoint.Profile);
            return Create(family.Build(checkpoint), checkpoint.Names, family, checkpoint.Strides, fuse,
                net => StateBinder.Bind(net, checkpoint));
        }
        catch (ArchitectureException e)
        {
            throw new CheckpointException(checkpoint.FilePath, e.Message, e);
        }
    }

    /// <summary>
    /// Builds an untrained network from an architecture config alone (as parsed from a yolov7 cfg yaml), with
    /// TorchSharp's default initialisation; strides are measured. Used to check architectures without weights.
    /// </summary>
    /// <exception cref="ArchitectureException">The config cannot be built.</exception>
    public static YoloModel FromArchitecture(IReadOnlyDictionary<string, object?> yaml)
    {
        long nc = yaml.GetValueOrDefault("nc") as long? ?? throw new ArchitectureException("the architecture has no 'nc'");
        return Create(YoloNetworkBuilder.Build(yaml, null), Enumerable.Range(0, (int)nc).Select(i => i.ToString()).ToArray(),
            ModelFamily.Yolov7, [], fuse: false, bind: null);
    }

    private static YoloModel Create(NetworkBlueprint blueprint, IReadOnlyList<string> names, ModelFamily family,
        float[] strides, bool fuse, Action<YoloModel>? bind)
    {
        var net = new YoloModel(blueprint, names, family);
        try
        {
            // Inference only: explanations take gradients with respect to activations, never parameters.
            foreach (var p in net.parameters()) p.requires_grad = false;
            bind?.Invoke(net);
            net.eval();
            net.MeasureLayers(strides);
            if (fuse) net.Fuse();
            return net;
        }
        catch
        {
            net.Dispose();
            throw;
        }
    }

    /// <summary>Folds BatchNorm, RepConv branches and implicit knowledge into convolutions (upstream <c>Model.fuse()</c>).</summary>
    public void Fuse()
    {
        foreach (var (_, module) in named_modules())
            if (module is IFusable f) f.Fuse();
        IsFused = true;
    }

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        var output = Run(x);
        output.Logits.Dispose();
        return output.Pred;
    }

    /// <summary>
    /// Runs the network on a (B, 3, H, W) RGB [0, 1] batch, H and W multiples of <see cref="MaxStride"/>,
    /// keeping the outputs of the <paramref name="capture"/> layers. Intermediate outputs are released as soon as
    /// no later layer needs them.
    /// </summary>
    /// <param name="x">The input batch.</param>
    /// <param name="capture">Layers whose outputs are returned in <see cref="ModelOutput.Activations"/>.</param>
    /// <param name="gradientFrom">
    /// Layers from which gradients are wanted: the network runs without autograd up to them, their outputs become
    /// autograd leaves (or stay graph nodes when they already depend on one) and what follows records the graph.
    /// No gradient ever flows below these layers or into parameters. Null: no autograd at all.
    /// </param>
    /// <param name="submodules">
    /// Submodule outputs to capture, as <c>&lt;layer&gt;.&lt;path&gt;</c> (see <see cref="SubmodulePaths"/>). With
    /// <paramref name="gradientFrom"/> set, the inputs of their layers become autograd leaves so the captured
    /// outputs are in the graph.
    /// </param>
    public ModelOutput Run(Tensor x, IReadOnlyCollection<int>? capture = null, IReadOnlyCollection<int>? gradientFrom = null,
        IReadOnlyCollection<string>? submodules = null)
    {
        var outputs = new Tensor?[_lastUse.Length];
        var captured = new Dictionary<int, Tensor>();
        var capturedSubmodules = new Dictionary<string, Tensor>();
        Tensor? pred = null, logits = null;
        bool recording = false;
        // Marks the caller's dispose scope: captured submodule outputs move there, out of any scope a block opens inside.
        using var callerScope = empty(0);
        for (int i = 0; i < outputs.Length; i++)
        {
            var from = Layers[i].From;
            var inputs = from.Select(f => f < 0 ? x : outputs[f] ?? throw new InvalidOperationException($"layer {f} output was released early")).ToArray();
            var hooked = submodules?.Where(s => s.StartsWith($"{i}.", StringComparison.Ordinal)).ToArray() ?? [];
            if (hooked.Length > 0 && gradientFrom is not null)
            {
                inputs = inputs.Select(t => t.requires_grad ? t : t.detach().requires_grad_(true)).ToArray();
                recording = true;
            }
            using var gradMode = gradientFrom is null ? null : enable_grad(recording);
            var removers = hooked.Select(path => Hook(i, path, capturedSubmodules, callerScope)).ToArray();
            Tensor y;
            switch (model[i])
            {
                case DetectionHead head:
                    (pred, logits) = head.ForwardHead(inputs);
                    y = pred;
                    break;
                case MultiInputLayer multi:
                    y = multi.call(inputs);
                    break;
                case nn.Module<Tensor, Tensor> single:
                    y = single.call(inputs[0]);
                    break;
                default:
                    throw new InvalidOperationException($"layer {i} has no forward");
            }
            foreach (var remove in removers) remove();
            if (gradientFrom?.Contains(i) == true && !y.requires_grad)
            {
                var leaf = y.detach().requires_grad_(true);
                if (!ReferenceEquals(y, x)) y.Dispose();
                y = leaf;
                recording = true;
            }
            outputs[i] = y;
            if (capture?.Contains(i) == true) captured[i] = y;
            foreach (var f in from.Distinct())
            {
                if (f < 0 || _lastUse[f] != i || captured.ContainsKey(f)) continue;
                if (!ReferenceEquals(outputs[f], y)) outputs[f]!.Dispose();
                outputs[f] = null;
            }
        }
        return new ModelOutput(pred!, logits!, captured, capturedSubmodules, (int)x.shape[2], (int)x.shape[3]);
    }

    /// <summary>The module of layer <paramref name="index"/>.</summary>
    internal nn.Module LayerModule(int index) => model[index];

    /// <summary>The submodule paths of layer <paramref name="layer"/> whose outputs can be captured, e.g. <c>conv</c>, <c>rbr_dense.0</c>.</summary>
    public IReadOnlyList<string> SubmodulePaths(int layer) =>
        model[layer].named_modules().Where(m => m.name.Length > 0 && m.module is nn.Module<Tensor, Tensor>).Select(m => m.name).ToArray();

    // Keeps the submodule's own output (it stays on the autograd path) and passes an alias on, because containers
    // such as Sequential dispose the intermediate results they are handed. Returns the hook's remover.
    private Action Hook(int layer, string path, Dictionary<string, Tensor> sink, Tensor scopeAnchor)
    {
        string relative = path[(path.IndexOf('.') + 1)..];
        var module = model[layer].named_modules().FirstOrDefault(m => m.name == relative).module as nn.Module<Tensor, Tensor>
            ?? throw new ArgumentException($"layer {layer} has no submodule '{relative}'", nameof(path));
        var remover = module.register_forward_hook((_, _, output) =>
        {
            // Detach first: TorchSharp 0.107's MoveToOther into the scope a tensor already belongs to drops it from
            // that scope's list while leaving it "owned" (never disposed; its finalizer then throws on the disposed scope).
            sink[path] = output.DetachFromDisposeScope().MoveToOtherDisposeScope(scopeAnchor);
            return output.alias();
        });
        return remover.remove;
    }

    private void MeasureLayers(float[] checkpointStrides)
    {
        // Like upstream's Model.__init__, a small forward measures each layer's stride: two cells at the coarsest level
        // (upstream uses 256 px; smaller keeps the memory a crafted file can make us allocate low).
        int coarsest = checkpointStrides.Length > 0 && checkpointStrides.All(s => s is >= 1 and <= 128) ? (int)checkpointStrides.Max() : 64;
        int probe = Math.Max(64, 2 * coarsest);
        var strides = new int[Layers.Count];
        var channels = new long[Layers.Count];
        var headLevel = HeadInputs.Select((layer, level) => (layer, level)).ToDictionary(p => p.layer, p => p.level);
        using (no_grad())
        using (NewDisposeScope())
        {
            var levelStrides = checkpointStrides.Length == _head.NumLevels
                ? checkpointStrides
                : Enumerable.Repeat(1f, _head.NumLevels).ToArray();
            _head.SetStrides(levelStrides);
            var all = Enumerable.Range(0, Layers.Count - 1).ToArray();
            ModelOutput output;
            try
            {
                output = Run(zeros(1, 3, probe, probe), all);
            }
            catch (System.Runtime.InteropServices.ExternalException e)
            {
                // Shapes that bind but do not connect (e.g. a layer fed from the wrong place) fail inside libtorch.
                throw new ArchitectureException($"the network does not run: {e.Message.Split('\n')[0]}");
            }
            foreach (var (i, t) in output.Activations)
            {
                strides[i] = t.dim() == 4 ? (int)(probe / t.shape[2]) : 0;
                channels[i] = t.dim() == 4 ? t.shape[1] : 0;
            }
            if (checkpointStrides.Length != _head.NumLevels)
                _head.SetStrides(HeadInputs.Select(l => (float)strides[l]).ToArray());
        }
        Layers = Layers.Select(l => l with { Stride = strides[l.Index], OutChannels = channels[l.Index], FeedsHead = headLevel.TryGetValue(l.Index, out var lv) ? lv : null }).ToArray();
    }
}
