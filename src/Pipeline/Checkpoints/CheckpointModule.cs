namespace StreamAnalyzer.Pipeline.Checkpoints;

/// <summary>
/// One pickled <c>torch.nn.Module</c> of a checkpoint: its class name, plain attributes, parameters, persistent
/// buffers and child modules, as recovered from the module's pickled <c>__dict__</c>.
/// </summary>
public sealed class CheckpointModule
{
    private readonly PyDict _attributes;

    internal CheckpointModule(string path, PyGlobal type, PyDict attributes,
        IReadOnlyDictionary<string, CheckpointModule> children,
        IReadOnlyDictionary<string, TensorRef> parameters,
        IReadOnlyDictionary<string, TensorRef> buffers)
    {
        Path = path;
        Type = type;
        _attributes = attributes;
        Children = children;
        Parameters = parameters;
        Buffers = buffers;
    }

    /// <summary>Dotted path from the model root, e.g. <c>model.0.conv</c> ("" for the root).</summary>
    public string Path { get; }

    /// <summary>The pickled class, e.g. <c>models.common.Conv</c>.</summary>
    public PyGlobal Type { get; }

    /// <summary>The class name without its module, e.g. <c>Conv</c>.</summary>
    public string TypeName => Type.Name;

    /// <summary>Child modules by attribute name (modules pickled as None are absent).</summary>
    public IReadOnlyDictionary<string, CheckpointModule> Children { get; }

    /// <summary>Parameters by name (None entries are absent).</summary>
    public IReadOnlyDictionary<string, TensorRef> Parameters { get; }

    /// <summary>Persistent buffers by name.</summary>
    public IReadOnlyDictionary<string, TensorRef> Buffers { get; }

    /// <summary>The child at a relative dotted path, or null.</summary>
    public CheckpointModule? Find(string relativePath)
    {
        CheckpointModule? m = this;
        foreach (var part in relativePath.Split('.', StringSplitOptions.RemoveEmptyEntries))
        {
            if (m is null || !m.Children.TryGetValue(part, out m)) return null;
        }
        return m;
    }

    /// <summary>A plain attribute of the module (e.g. <c>eps</c>, <c>stride</c>), or null when absent.</summary>
    public object? Attribute(string name) => _attributes.Get(name);

    /// <summary>A numeric attribute as double, or null.</summary>
    public double? Double(string name) => Attribute(name) switch
    {
        double d => d,
        long l => l,
        _ => null,
    };

    /// <summary>An integer attribute, or null.</summary>
    public long? Long(string name) => Attribute(name) as long?;

    /// <summary>A boolean attribute, or null.</summary>
    public bool? Bool(string name) => Attribute(name) as bool?;

    /// <summary>An integer or integer-pair attribute (e.g. <c>kernel_size</c> = 3 or (3, 3)) as a pair, or null.</summary>
    public (long, long)? Pair(string name) => Attribute(name) switch
    {
        long l => (l, l),
        PyTuple { Items: [long a, long b] } => (a, b),
        List<object?> { Count: 2 } l when l[0] is long a && l[1] is long b => (a, b),
        _ => null,
    };

    /// <summary>Every persistent tensor of this module and its descendants, keyed by dotted path.</summary>
    public IEnumerable<KeyValuePair<string, TensorRef>> StateEntries(string prefix = "")
    {
        foreach (var (name, t) in Parameters) yield return new(prefix + name, t);
        foreach (var (name, t) in Buffers) yield return new(prefix + name, t);
        foreach (var (name, child) in Children)
            foreach (var e in child.StateEntries(prefix + name + ".")) yield return e;
    }
}
