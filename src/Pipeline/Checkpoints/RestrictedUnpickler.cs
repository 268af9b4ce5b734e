using System.Buffers.Binary;
using System.Text;

namespace StreamAnalyzer.Pipeline.Checkpoints;

/// <summary>
/// A pickle reader for PyTorch checkpoints that never executes anything: every GLOBAL must be a data constructor,
/// a storage class or a class the caller's policy accepts (<see cref="CheckpointProfile.Refusal"/> by default), and is
/// kept as a name; REDUCE is only understood for a handful of data constructors (OrderedDict, set, the tensor rebuild
/// functions, numpy's array reconstruction, <c>_codecs.encode</c>, a namespace of hyper-parameters); anything else is
/// refused with the byte offset where the pickle names it.
/// </summary>
/// <remarks>
/// Razorvine.Pickle was considered: it resolves unknown globals to generic dictionaries, registers constructors
/// in a process-wide static table and reports an unknown opcode without its position, so it can neither refuse a
/// foreign global where it appears nor report the precise error users need. The opcode subset a checkpoint uses
/// is small (see ../shared/notes/yolov7-checkpoints.md), so the reader is our own.
/// </remarks>
public sealed class RestrictedUnpickler
{
    private const int MaxMemo = 10_000_000;
    private const int MaxStack = 1_000_000;

    private static readonly HashSet<string> DataCallables =
    [
        "collections.OrderedDict", "__builtin__.set", "builtins.set",
        "torch._utils._rebuild_tensor_v2", "torch._utils._rebuild_parameter",
        "numpy.core.multiarray._reconstruct", "numpy._core.multiarray._reconstruct",
        "numpy.core.multiarray.scalar", "numpy._core.multiarray.scalar",
        "numpy.dtype", "numpy.ndarray", "_codecs.encode", "torch.Size",
        "torch._utils._rebuild_parameter_with_state",
        // model.args of an Ultralytics training checkpoint that was never stripped: a namespace of plain values
        // (ultralytics.yolo.utils in 8.0.x files).
        "ultralytics.utils.IterableSimpleNamespace", "ultralytics.yolo.utils.IterableSimpleNamespace",
    ];

    private static readonly Dictionary<string, StorageDType> StorageTypes = new()
    {
        ["torch.HalfStorage"] = StorageDType.Float16,
        ["torch.BFloat16Storage"] = StorageDType.BFloat16,
        ["torch.FloatStorage"] = StorageDType.Float32,
        ["torch.DoubleStorage"] = StorageDType.Float64,
        ["torch.LongStorage"] = StorageDType.Int64,
        ["torch.IntStorage"] = StorageDType.Int32,
        ["torch.ShortStorage"] = StorageDType.Int16,
        ["torch.ByteStorage"] = StorageDType.UInt8,
        ["torch.CharStorage"] = StorageDType.Int8,
        ["torch.BoolStorage"] = StorageDType.Bool,
    };

    private readonly byte[] _data;
    private readonly string _path;
    private readonly List<object?> _stack = [];
    private readonly Stack<int> _marks = new();
    private readonly Dictionary<long, object?> _memo = [];
    private readonly Func<string, string?> _refusal;
    private readonly Dictionary<string, long> _classes = new(StringComparer.Ordinal);
    private int _pos;
    private int _opAt;

    private RestrictedUnpickler(byte[] data, string path, Func<string, string?> refusal)
    {
        _data = data;
        _path = path;
        _refusal = refusal;
    }

    /// <summary>Reads one pickle from <paramref name="data"/>; <paramref name="path"/> names it in errors.</summary>
    /// <param name="data">The pickle.</param>
    /// <param name="path">The file, for error messages.</param>
    /// <param name="refusal">
    /// For a class name: null to accept it as a name, or the reason it is refused. Default:
    /// <see cref="CheckpointProfile.Refusal"/> (the classes of every supported family).
    /// </param>
    /// <exception cref="CheckpointException">The pickle is malformed, uses an unsupported opcode or names a refused global.</exception>
    public static UnpickledData Load(byte[] data, string path, Func<string, string?>? refusal = null)
    {
        var reader = new RestrictedUnpickler(data, path, refusal ?? CheckpointProfile.Refusal);
        var root = reader.Run();
        return new UnpickledData(root, reader._classes);
    }

    private CheckpointException Error(string reason) => new(_path, $"data.pkl at byte {_pos}: {reason}");

    private object? Run()
    {
        while (true)
        {
            if (_pos >= _data.Length) throw Error("pickle ends without a STOP opcode (file truncated?)");
            int opAt = _opAt = _pos;
            byte op = _data[_pos++];
            switch (op)
            {
                case 0x80: ReadBytes(1); break;                                   // PROTO
                case 0x95: ReadBytes(8); break;                                   // FRAME
                case (byte)'.':                                                   // STOP
                    if (_stack.Count != 1) throw Error($"STOP with {_stack.Count} items on the stack");
                    return _stack[0];
                case (byte)'(': _marks.Push(_stack.Count); break;                 // MARK
                case (byte)'}': Push(new PyDict()); break;                        // EMPTY_DICT
                case (byte)']': Push(new List<object?>()); break;                 // EMPTY_LIST
                case (byte)')': Push(new PyTuple([])); break;                     // EMPTY_TUPLE
                case (byte)'t': Push(new PyTuple(PopMark())); break;              // TUPLE
                case 0x85: Push(new PyTuple(PopN(1))); break;                     // TUPLE1
                case 0x86: Push(new PyTuple(PopN(2))); break;                     // TUPLE2
                case 0x87: Push(new PyTuple(PopN(3))); break;                     // TUPLE3
                case (byte)'l': Push(PopMark()); break;                           // LIST
                case (byte)'d': Push(DictFrom(PopMark())); break;                 // DICT
                case (byte)'s': { var v = Pop(); var k = Pop(); AsDict(Peek()).Set(k, v); break; } // SETITEM
                case (byte)'u':                                                   // SETITEMS
                {
                    var items = PopMark();
                    if (items.Count % 2 != 0) throw Error("SETITEMS with an odd number of items");
                    var d = AsDict(Peek());
                    for (int i = 0; i < items.Count; i += 2) d.Set(items[i], items[i + 1]);
                    break;
                }
                case (byte)'a': { var v = Pop(); AsList(Peek()).Add(v); break; }  // APPEND
                case (byte)'e': { var items = PopMark(); AsList(Peek()).AddRange(items); break; } // APPENDS
                case (byte)'K': Push((long)ReadBytes(1)[0]); break;              // BININT1
                case (byte)'M': Push((long)BinaryPrimitives.ReadUInt16LittleEndian(ReadBytes(2))); break; // BININT2
                case (byte)'J': Push((long)BinaryPrimitives.ReadInt32LittleEndian(ReadBytes(4))); break;  // BININT
                case 0x8a: Push(ReadLong(ReadBytes(1)[0])); break;                // LONG1
                case (byte)'G': Push(BinaryPrimitives.ReadDoubleBigEndian(ReadBytes(8))); break; // BINFLOAT
                case (byte)'N': Push(null); break;                                // NONE
                case 0x88: Push(true); break;                                     // NEWTRUE
                case 0x89: Push(false); break;                                    // NEWFALSE
                case (byte)'X': Push(ReadUtf8(ReadLength(4))); break;             // BINUNICODE
                case 0x8c: Push(ReadUtf8(ReadBytes(1)[0])); break;                // SHORT_BINUNICODE
                case (byte)'T': Push(Encoding.Latin1.GetString(ReadBytes(ReadLength(4)))); break; // BINSTRING
                case (byte)'U': Push(Encoding.Latin1.GetString(ReadBytes(ReadBytes(1)[0]))); break; // SHORT_BINSTRING
                case (byte)'B': Push(ReadBytes(ReadLength(4)).ToArray()); break;  // BINBYTES
                case (byte)'C': Push(ReadBytes(ReadBytes(1)[0]).ToArray()); break; // SHORT_BINBYTES
                case (byte)'q': Memo(ReadBytes(1)[0]); break;                     // BINPUT
                case (byte)'r': Memo(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4))); break; // LONG_BINPUT
                case 0x94: Memo(_memo.Count); break;                              // MEMOIZE
                case (byte)'h': Push(Recall(ReadBytes(1)[0])); break;             // BINGET
                case (byte)'j': Push(Recall(BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)))); break; // LONG_BINGET
                case (byte)'0': Pop(); break;                                     // POP
                case (byte)'1': PopMark(); break;                                 // POP_MARK
                case (byte)'2': Push(Peek()); break;                              // DUP
                case (byte)'c': Push(Global(ReadLine(), ReadLine())); break;      // GLOBAL
                case 0x93: { var name = Pop(); var module = Pop(); Push(Global(AsString(module), AsString(name))); break; } // STACK_GLOBAL
                case (byte)'R': { var args = Pop(); var fn = Pop(); Push(Reduce(fn, args)); break; } // REDUCE
                case 0x81: { var args = Pop(); var cls = Pop(); Push(NewObj(cls, args)); break; }    // NEWOBJ
                case (byte)'b': { var state = Pop(); Build(Peek(), state); break; }                  // BUILD
                case (byte)'Q': Push(PersistentLoad(Pop())); break;              // BINPERSID
                default:
                    _pos = opAt;
                    throw Error($"unsupported pickle opcode 0x{op:x2}" + (op is >= 0x20 and < 0x7f ? $" ('{(char)op}')" : ""));
            }
        }
    }

    private ReadOnlySpan<byte> ReadBytes(long n)
    {
        if (n < 0 || n > _data.Length - _pos) throw Error($"needs {n} more bytes but the pickle ends (file truncated?)");
        var span = _data.AsSpan(_pos, (int)n);
        _pos += (int)n;
        return span;
    }

    private long ReadLength(int width) => width == 4 ? BinaryPrimitives.ReadUInt32LittleEndian(ReadBytes(4)) : ReadBytes(1)[0];

    private string ReadUtf8(long n) => Encoding.UTF8.GetString(ReadBytes(n));

    private string ReadLine()
    {
        int end = Array.IndexOf(_data, (byte)'\n', _pos);
        if (end < 0) throw Error("GLOBAL name is not terminated");
        var s = Encoding.ASCII.GetString(_data, _pos, end - _pos);
        _pos = end + 1;
        return s;
    }

    private object ReadLong(int n)
    {
        var bytes = ReadBytes(n);
        if (n == 0) return 0L;
        if (n > 8) throw Error($"integer of {n} bytes is too large");
        long v = 0;
        for (int i = n - 1; i >= 0; i--) v = (v << 8) | bytes[i];
        int shift = 64 - 8 * n;
        return shift > 0 ? (v << shift) >> shift : v; // sign-extend
    }

    private void Push(object? o)
    {
        if (_stack.Count >= MaxStack) throw Error("pickle stack exceeds its limit");
        _stack.Add(o);
    }

    private object? Pop()
    {
        if (_stack.Count == 0 || (_marks.Count > 0 && _stack.Count <= _marks.Peek())) throw Error("pickle stack underflow");
        var o = _stack[^1];
        _stack.RemoveAt(_stack.Count - 1);
        return o;
    }

    private object? Peek() => _stack.Count > 0 ? _stack[^1] : throw Error("pickle stack underflow");

    private List<object?> PopN(int n)
    {
        var items = new List<object?>(n);
        for (int i = 0; i < n; i++) items.Insert(0, Pop());
        return items;
    }

    private List<object?> PopMark()
    {
        if (_marks.Count == 0) throw Error("no MARK on the stack");
        int at = _marks.Pop();
        var items = _stack.GetRange(at, _stack.Count - at);
        _stack.RemoveRange(at, _stack.Count - at);
        return items;
    }

    private void Memo(long index)
    {
        if (_memo.Count >= MaxMemo) throw Error("pickle memo exceeds its limit");
        _memo[index] = Peek();
    }

    private object? Recall(long index) =>
        _memo.TryGetValue(index, out var v) ? v : throw Error($"memo entry {index} is read before it is written");

    private PyDict DictFrom(List<object?> items)
    {
        if (items.Count % 2 != 0) throw Error("DICT with an odd number of items");
        var d = new PyDict();
        for (int i = 0; i < items.Count; i += 2) d.Set(items[i], items[i + 1]);
        return d;
    }

    private PyDict AsDict(object? o) => o as PyDict ?? throw Error($"expected a dict on the stack, found {Describe(o)}");

    private List<object?> AsList(object? o) => o switch
    {
        List<object?> l => l,
        _ => throw Error($"expected a list on the stack, found {Describe(o)}"),
    };

    private string AsString(object? o) => o as string ?? throw Error($"expected a string, found {Describe(o)}");

    private PyGlobal Global(string module, string name)
    {
        var g = new PyGlobal(module, name);
        if (DataCallables.Contains(g.FullName) || StorageTypes.ContainsKey(g.FullName)) return g;
        if (_refusal(g.FullName) is { } reason) throw Error($"{reason}; refusing to load it (nothing was executed)");
        _classes.TryAdd(g.FullName, _opAt);
        return g;
    }

    private object? Reduce(object? fn, object? argsObj)
    {
        if (fn is not PyGlobal g) throw Error($"REDUCE on {Describe(fn)}");
        if (argsObj is not PyTuple t) throw Error($"REDUCE arguments for '{g.FullName}' are not a tuple");
        var args = t.Items;
        switch (g.FullName)
        {
            case "collections.OrderedDict":
                return new PyDict();
            case "__builtin__.set" or "builtins.set":
                return new PySet(args.Count == 0 ? [] : args[0] as List<object?> ?? throw Error("set() of a non-list"));
            case "torch._utils._rebuild_tensor_v2":
                return RebuildTensor(args);
            case "torch._utils._rebuild_parameter" or "torch._utils._rebuild_parameter_with_state":
                if (args.Count < 1 || args[0] is not TensorRef tr) throw Error("_rebuild_parameter without a tensor");
                return tr with { IsParameter = true };
            case "ultralytics.utils.IterableSimpleNamespace" or "ultralytics.yolo.utils.IterableSimpleNamespace":
                return new PyInstance(g, args); // its values arrive with BUILD
            case "_codecs.encode":
                if (args.Count < 1 || args[0] is not string s) throw Error("_codecs.encode without a string");
                return Encoding.Latin1.GetBytes(s);
            case "torch.Size":
                return new PyTuple(args.Count == 1 && args[0] is PyTuple inner ? inner.Items : args);
            case "numpy.core.multiarray._reconstruct" or "numpy._core.multiarray._reconstruct"
                or "numpy.core.multiarray.scalar" or "numpy._core.multiarray.scalar" or "numpy.dtype":
                // numpy data (e.g. best_fitness in training checkpoints): kept opaque, never interpreted.
                return new PyInstance(g, args);
            default:
                throw Error($"calling '{g.FullName}' (REDUCE) is not supported in a checkpoint");
        }
    }

    private TensorRef RebuildTensor(IReadOnlyList<object?> args)
    {
        if (args.Count < 4 || args[0] is not StorageRef storage || args[1] is not long offset ||
            args[2] is not PyTuple size || args[3] is not PyTuple stride)
            throw Error("_rebuild_tensor_v2 with unexpected arguments");
        long[] sz = size.Items.Select(ToLong).ToArray();
        long[] st = stride.Items.Select(ToLong).ToArray();
        if (sz.Length != st.Length) throw Error("tensor size and stride differ in length");
        if (offset < 0 || sz.Any(v => v < 0) || st.Any(v => v < 0)) throw Error("negative tensor size, stride or offset");
        long extent = 0;
        try
        {
            checked
            {
                if (sz.All(v => v > 0))
                    for (int i = 0; i < sz.Length; i++) extent += (sz[i] - 1) * st[i];
                extent = sz.Any(v => v == 0) ? 0 : offset + extent + 1;
            }
        }
        catch (OverflowException)
        {
            throw Error("tensor extent overflows");
        }
        if (extent > storage.Numel)
            throw Error($"tensor of size ({string.Join(", ", sz)}) at offset {offset} needs {extent} elements but storage '{storage.Key}' has {storage.Numel}");
        return new TensorRef(storage, offset, sz, st);
    }

    private long ToLong(object? o) => o is long l ? l : throw Error($"expected an integer, found {Describe(o)}");

    private object NewObj(object? cls, object? args)
    {
        if (cls is not PyGlobal g) throw Error($"NEWOBJ on {Describe(cls)}");
        if (DataCallables.Contains(g.FullName) && g.FullName is not "numpy.ndarray" and not "numpy.dtype" and not "ultralytics.utils.IterableSimpleNamespace"
            and not "ultralytics.yolo.utils.IterableSimpleNamespace")
            throw Error($"NEWOBJ on '{g.FullName}' is not supported");
        return new PyInstance(g, (args as PyTuple)?.Items ?? []);
    }

    private void Build(object? target, object? state)
    {
        switch (target)
        {
            case PyInstance inst:
                inst.State = state;
                break;
            case PyDict when state is null:
                break;
            default:
                throw Error($"BUILD on {Describe(target)}");
        }
    }

    private StorageRef PersistentLoad(object? pid)
    {
        if (pid is not PyTuple t || t.Items.Count < 5 || t.Items[0] is not "storage")
            throw Error("persistent id is not a ('storage', type, key, location, numel) record");
        if (t.Items[1] is not PyGlobal g || !StorageTypes.TryGetValue(g.FullName, out var dtype))
            throw Error($"unsupported storage type {Describe(t.Items[1])}");
        if (t.Items[2] is not string key || key.Length == 0 || key.Contains('/') || key.Contains('\\') || key.Contains(".."))
            throw Error("storage key is not a plain name");
        if (t.Items[4] is not long numel || numel < 0) throw Error($"storage '{key}' has no valid element count");
        return new StorageRef(key, dtype, numel);
    }

    private static string Describe(object? o) => o switch
    {
        null => "None",
        PyGlobal g => $"'{g.FullName}'",
        PyInstance i => $"an instance of '{i.Type.FullName}'",
        _ => o.GetType().Name,
    };
}
