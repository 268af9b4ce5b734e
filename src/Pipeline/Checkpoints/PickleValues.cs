namespace StreamAnalyzer.Pipeline.Checkpoints;

// The data model of an unpickled checkpoint. Nothing here can run code: a Python global is only a name,
// an instance is only that name plus the arguments and state the pickle gave it.

/// <summary>A Python global (module + name) named by a GLOBAL opcode: data, never resolved to code.</summary>
public sealed record PyGlobal(string Module, string Name)
{
    /// <summary>"module.Name".</summary>
    public string FullName => $"{Module}.{Name}";

    /// <inheritdoc/>
    public override string ToString() => FullName;
}

/// <summary>An object created by NEWOBJ or by a data-only REDUCE: its class name, arguments and BUILD state.</summary>
public sealed class PyInstance(PyGlobal type, IReadOnlyList<object?> args)
{
    /// <summary>The class the pickle named.</summary>
    public PyGlobal Type { get; } = type;

    /// <summary>The constructor arguments as pickled (not interpreted).</summary>
    public IReadOnlyList<object?> Args { get; } = args;

    /// <summary>The state set by BUILD (for torch modules: the module's <c>__dict__</c>).</summary>
    public object? State { get; set; }

    /// <summary>The BUILD state as a dictionary, or null when it is not one.</summary>
    public PyDict? Dict => State as PyDict;
}

/// <summary>A Python tuple.</summary>
public sealed record PyTuple(IReadOnlyList<object?> Items);

/// <summary>A Python dict (or OrderedDict), insertion ordered.</summary>
public sealed class PyDict
{
    private readonly OrderedDictionary<object, object?> _items = new();

    /// <summary>Entries in insertion order.</summary>
    public IEnumerable<KeyValuePair<object, object?>> Items => _items;

    /// <summary>Number of entries.</summary>
    public int Count => _items.Count;

    /// <summary>Sets a key (None keys are stored as <see cref="PyNone"/>).</summary>
    public void Set(object? key, object? value) => _items[key ?? PyNone.Instance] = value;

    /// <summary>True when the key is present.</summary>
    public bool ContainsKey(string key) => _items.ContainsKey(key);

    /// <summary>The value for a string key, or null when absent.</summary>
    public object? Get(string key) => _items.TryGetValue(key, out var v) ? v : null;
}

/// <summary>Stands for Python's None where a non-null key is needed.</summary>
public sealed class PyNone
{
    /// <summary>The one instance.</summary>
    public static readonly PyNone Instance = new();

    private PyNone() { }
}

/// <summary>A Python set (its items only).</summary>
public sealed record PySet(IReadOnlyList<object?> Items);

/// <summary>Element types of torch storages, by their pickled storage class.</summary>
public enum StorageDType
{
    /// <summary>torch.HalfStorage</summary>
    Float16,
    /// <summary>torch.BFloat16Storage</summary>
    BFloat16,
    /// <summary>torch.FloatStorage</summary>
    Float32,
    /// <summary>torch.DoubleStorage</summary>
    Float64,
    /// <summary>torch.LongStorage</summary>
    Int64,
    /// <summary>torch.IntStorage</summary>
    Int32,
    /// <summary>torch.ShortStorage</summary>
    Int16,
    /// <summary>torch.ByteStorage</summary>
    UInt8,
    /// <summary>torch.CharStorage</summary>
    Int8,
    /// <summary>torch.BoolStorage</summary>
    Bool,
}

/// <summary>A reference to one storage file of the archive (a BINPERSID record).</summary>
public sealed record StorageRef(string Key, StorageDType DType, long Numel)
{
    /// <summary>Size of one element in bytes.</summary>
    public int ElementSize => DType switch
    {
        StorageDType.Float16 or StorageDType.BFloat16 or StorageDType.Int16 => 2,
        StorageDType.Float32 or StorageDType.Int32 => 4,
        StorageDType.Float64 or StorageDType.Int64 => 8,
        _ => 1,
    };
}

/// <summary>A tensor as <c>torch._utils._rebuild_tensor_v2</c> describes it: a strided view of a storage.</summary>
public sealed record TensorRef(StorageRef Storage, long Offset, long[] Size, long[] Stride)
{
    /// <summary>True when rebuilt through <c>_rebuild_parameter</c>.</summary>
    public bool IsParameter { get; init; }

    /// <summary>Number of elements of the view.</summary>
    public long Numel => Size.Aggregate(1L, (a, b) => a * b);

    /// <summary>Shape as text, e.g. "(32, 3, 3, 3)".</summary>
    public string ShapeText => "(" + string.Join(", ", Size) + ")";
}
