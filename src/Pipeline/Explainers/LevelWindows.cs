using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Model.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>
/// For each detection level, the layers an <c>auto</c> or <c>neck</c> explanation starts from (the head input, or
/// the layers feeding it), how to recompute the head input and the level's scores from them on any window, and how
/// far (in cells) a score reaches back into them - measured once, by a backward pass from one cell of a random map.
/// </summary>
internal sealed class LevelWindows
{
    private const int Probe = 10;
    private readonly YoloModel _model;
    private readonly int[] _headInputs;
    private readonly int[][] _roots;
    private readonly int?[] _radius;
    private readonly bool[] _measured;
    private readonly Lazy<WindowProgram?>[] _programs;

    public LevelWindows(YoloModel model, LayerSelection selection)
    {
        _model = model;
        int levels = model.HeadInputs.Count;
        _headInputs = model.HeadInputs.ToArray();
        _roots = Enumerable.Range(0, levels).Select(l => selection.IsAuto ? [_headInputs[l]] : LayerSelection.NeckLayersOf(model, l).Where(x => x != _headInputs[l]).ToArray()).ToArray();
        _radius = new int?[levels];
        _measured = new bool[levels];
        _programs = Enumerable.Range(0, levels).Select(l => new Lazy<WindowProgram?>(() => Compile(l))).ToArray();
    }

    /// <summary>The layers a window of <paramref name="level"/> is cut from.</summary>
    public IReadOnlyList<int> Roots(int level) => _roots[level];

    /// <summary>How many cells a score at <paramref name="level"/> reaches back into the roots; null when windows cannot be used there.</summary>
    public int? Radius(int level)
    {
        if (!_measured[level])
        {
            _radius[level] = Local(level) ? Measure(level) : null;
            _measured[level] = true;
        }
        return _radius[level];
    }

    /// <summary>
    /// The level's head input (when it is not the root) and head branch as a managed program from a single root's window,
    /// what <see cref="RecomputeCentre"/> computes; null where some layer is not one the program runs, there are several
    /// roots, or the model is not float32 on the CPU.
    /// </summary>
    public WindowProgram? Program(int level) => _programs[level].Value;

    private WindowProgram? Compile(int level)
    {
        if (_roots[level] is not [int root]) return null;
        var first = _model.parameters().FirstOrDefault();
        if (first is null || first.device.type != DeviceType.CPU || first.dtype != ScalarType.Float32) return null;
        using var scope = NewDisposeScope();
        int h = _headInputs[level];
        var program = new WindowProgram.Builder((int)_model.Layers[root].OutChannels);
        int? headInput = null;
        int x = program.Input;
        if (root != h)
        {
            if (_model.Layers[h].From is not [int from] || from != root || _model.LayerModule(h) is not nn.Module<Tensor, Tensor> single
                || UnpaddedWindow.Lower(program, single, x) is not { } node)
                return null;
            headInput = x = node;
        }
        return _model.Head.LowerLevel(program, level, x) is { } output ? program.Build(output, headInput) : null;
    }

    /// <summary>The head input (when it is not a root) and the level's scores from root windows; the head input joins <paramref name="crops"/>.</summary>
    public Tensor Recompute(int level, Dictionary<int, Tensor> crops)
    {
        int h = _headInputs[level];
        if (!crops.ContainsKey(h))
        {
            var inputs = _model.Layers[h].From.Select(f => crops[f]).ToArray();
            crops[h] = _model.LayerModule(h) switch
            {
                MultiInputLayer multi => multi.call(inputs),
                nn.Module<Tensor, Tensor> single => single.call(inputs[0]),
                _ => throw new InvalidOperationException($"layer {h} cannot be recomputed"),
            };
        }
        return _model.Head.LevelLogits(level, crops[h]);
    }

    /// <summary>
    /// The scores of the window's centre cell, one row per anchor, from root windows that lie inside their maps (all
    /// the same odd size, stacked). Where every layer on the way is a plain convolution chain they run without padding,
    /// so only the cells the centre's score needs are computed; otherwise as <see cref="Recompute"/> does.
    /// </summary>
    public Tensor RecomputeCentre(int level, Dictionary<int, Tensor> crops)
    {
        int h = _headInputs[level];
        var headInput = crops.TryGetValue(h, out var given) ? given
            : _model.Layers[h].From.Length == 1 && _model.LayerModule(h) is nn.Module<Tensor, Tensor> single ? UnpaddedWindow.Forward(single, crops[_model.Layers[h].From[0]])
            : null;
        var unpadded = headInput is null ? null : _model.Head.LevelLogitsUnpadded(level, headInput);
        if (unpadded is not null && Centre(unpadded) is { } centre)
        {
            crops[h] = headInput!;
            return centre;
        }
        return Centre(Recompute(level, crops)) ?? throw new InvalidOperationException($"level {level}: windows are not square");
    }

    // Rows of a square, odd-sided window's centre cell, one per anchor; null for any other shape.
    private Tensor? Centre(Tensor logits)
    {
        long anchors = _model.Layout.AnchorsPerCell;
        if (logits.shape[1] % anchors != 0) return null;
        long cells = logits.shape[1] / anchors, side = (long)Math.Round(Math.Sqrt(cells));
        if (side * side != cells || side % 2 == 0) return null;
        return logits.view(logits.shape[0], anchors, cells, -1).select(2, (side / 2) * side + side / 2);
    }

    // Windows need every layer involved at the level's own stride, and the head input made from the roots alone.
    private bool Local(int level)
    {
        int stride = (int)_model.Layout.Strides[level];
        int h = _headInputs[level];
        var roots = _roots[level];
        return roots.Length > 0 && roots.Append(h).All(l => _model.Layers[l].Stride == stride)
            && (roots.Contains(h) || _model.Layers[h].From.All(roots.Contains));
    }

    private int? Measure(int level)
    {
        using var scope = NewDisposeScope();
        using var grad = enable_grad();
        int size = 2 * Probe + 1;
        var device = _model.parameters().First().device;
        // A generator of its own: reseeding the global one would change other code's random draws. Drawn on the CPU
        // (the same probe on every device) and moved.
        using var generator = new Generator(0);
        var crops = _roots[level].ToDictionary(r => r, r => randn([1, _model.Layers[r].OutChannels, size, size], generator: generator).to(device).requires_grad_(true));
        var leaves = crops.Values.ToArray();
        var logits = Recompute(level, crops);
        long centre = (long)Probe * size + Probe;
        var grads = torch.autograd.grad([logits[0, centre].sum()], leaves);
        int reach = 0;
        foreach (var g in grads)
        {
            var active = g.abs().sum(0L).sum(0L).gt(TorchScalars.Of(0.0)); // (size, size)
            var where = nonzero(active);
            if (where.numel() == 0) continue;
            reach = Math.Max(reach, (int)where.sub(TorchScalars.Of((long)Probe)).abs().max().item<long>());
        }
        // A score that reaches the edge of the probe is not local (e.g. attention): no windows there.
        return reach < Probe ? reach : null;
    }
}
