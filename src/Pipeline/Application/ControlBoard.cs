using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Application;

/// <summary>
/// The live settings of every stream: defaults for all, and per-stream overrides. Stages read
/// <see cref="For"/> once per frame; <see cref="Apply"/> validates a change completely before any stream sees it, so
/// a bad request changes nothing. Thread-safe.
/// </summary>
public sealed class ControlBoard
{
    private readonly Lock _gate = new();
    private readonly Func<StreamControls, CamExplainer> _explainers;
    private readonly int _sources;
    private readonly int _classes;
    private StreamControls _defaults;
    private StreamControls[] _current;

    /// <summary>Starts every stream on <paramref name="initial"/>.</summary>
    /// <param name="initial">The settings the run starts with.</param>
    /// <param name="sources">Number of streams.</param>
    /// <param name="classes">Number of classes of the model (class filters are checked against it).</param>
    /// <param name="explainers">The explainer for a method/target/layers choice; throws <see cref="UserInputException"/> for an unusable one.</param>
    public ControlBoard(StreamControls initial, int sources, int classes, Func<StreamControls, CamExplainer> explainers)
    {
        _defaults = initial;
        _sources = sources;
        _classes = classes;
        _explainers = explainers;
        _current = Enumerable.Repeat(initial, sources).ToArray();
    }

    /// <summary>Number of streams.</summary>
    public int Sources => _sources;

    /// <summary>Batches analysed at once (set by the pipeline): with more than one, explainers must allow concurrent calls.</summary>
    public int Workers { get; set; } = 1;

    /// <summary>The settings new streams and "all" requests start from.</summary>
    public StreamControls Defaults => Volatile.Read(ref _defaults);

    /// <summary>The settings of stream <paramref name="source"/> now.</summary>
    public StreamControls For(int source) => (uint)source < (uint)_sources ? Volatile.Read(ref _current)[source] : Defaults;

    /// <summary>The explainer the settings ask for; null when they explain nothing.</summary>
    public CamExplainer? ExplainerFor(StreamControls controls) => controls.CamEvery > 0 ? _explainers(controls) : null;

    /// <summary>
    /// Applies <paramref name="patch"/> to stream <paramref name="source"/>, or to every stream and the defaults when
    /// it is null. Effective from the next frame each stream analyses.
    /// </summary>
    /// <exception cref="UserInputException">A value is out of range or names no method, target or layer; nothing changed.</exception>
    public StreamControls Apply(ControlPatch patch, int? source = null)
    {
        if (source is int s && (uint)s >= (uint)_sources) throw new UserInputException($"no stream {s}");
        StreamControls result;
        lock (_gate)
        {
            var current = _current.ToArray();
            var targets = source is int one ? [one] : Enumerable.Range(0, _sources).ToArray();
            foreach (int i in targets)
            {
                current[i] = patch.ApplyTo(current[i]);
                Validate(current[i]);
            }
            var defaults = _defaults;
            if (source is null)
            {
                defaults = patch.ApplyTo(defaults);
                Validate(defaults);
            }
            Volatile.Write(ref _current, current);
            Volatile.Write(ref _defaults, defaults);
            result = source is int k ? current[k] : defaults;
        }
        return result;
    }

    private void Validate(StreamControls c)
    {
        if (c.TopK < 1) throw new UserInputException("top_k must be at least 1");
        if (c.CamEvery < 0) throw new UserInputException("cam_every must be 0 (never) or more");
        if (c.ConfThreshold is < 0 or > 1) throw new UserInputException("conf must be between 0 and 1");
        if (c.Alpha is < 0 or > 1 || double.IsNaN(c.Alpha)) throw new UserInputException("alpha must be between 0 and 1");
        NmsOptions.EnsureClassesExist(c.Classes, _classes);
        // The method, target and layers are checked by building (or finding) their explainer, whether or not it runs yet.
        var explainer = _explainers(c);
        if (Workers > 1 && !explainer.SupportsConcurrentCalls)
            throw new UserInputException($"layers '{c.Layers}': submodules can only be explained with one inference worker (--workers 1)");
    }
}
