using System.IO.Compression;
using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Checkpoints;

/// <summary>
/// An official YOLOv7 <c>.pt</c> checkpoint (PyTorch zip format), read without executing anything it names:
/// the architecture (<c>Model.yaml</c>), class names, strides and the full state dict of the module tree.
/// Upstream's <c>attempt_load</c> semantics: <c>ema</c> is used when present, else <c>model</c>.
/// </summary>
public sealed class YoloCheckpoint
{
    private const long MaxPickleBytes = 512L << 20;
    private const int MaxModuleDepth = 64;
    private readonly Dictionary<string, byte[]> _storages;

    private YoloCheckpoint(string path, CheckpointModule root, IReadOnlyDictionary<string, object?> yaml,
        IReadOnlyList<string> names, float[] strides, Dictionary<string, byte[]> storages, string source)
    {
        FilePath = path;
        Root = root;
        Yaml = yaml;
        Names = names;
        Strides = strides;
        _storages = storages;
        ModelSource = source;
        State = root.StateEntries().ToDictionary(e => e.Key, e => e.Value);
    }

    /// <summary>The file this checkpoint was read from.</summary>
    public string FilePath { get; }

    /// <summary>The pickled <c>models.yolo.Model</c> module tree.</summary>
    public CheckpointModule Root { get; }

    /// <summary>The parsed architecture config (<c>nc</c>, <c>anchors</c>, <c>backbone</c>, <c>head</c>, ...).</summary>
    public IReadOnlyDictionary<string, object?> Yaml { get; }

    /// <summary>Class names (<c>Model.names</c>).</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Strides of the detection levels (<c>Model.stride</c>), e.g. 8, 16, 32.</summary>
    public float[] Strides { get; }

    /// <summary>"ema" or "model": which entry of the checkpoint the network came from.</summary>
    public string ModelSource { get; }

    /// <summary>The state dict: tensor references keyed like upstream's <c>state_dict()</c> (<c>model.0.conv.weight</c>).</summary>
    public IReadOnlyDictionary<string, TensorRef> State { get; }

    /// <summary>Reads and validates a checkpoint.</summary>
    /// <exception cref="CheckpointException">Anything wrong with the file, named specifically.</exception>
    public static YoloCheckpoint Load(string path)
    {
        if (!File.Exists(path)) throw new CheckpointException(path, "file not found");
        ZipArchive zip;
        try
        {
            zip = ZipFile.OpenRead(path);
        }
        catch (InvalidDataException e)
        {
            throw new CheckpointException(path, DescribeNonZip(path), e);
        }
        catch (IOException e)
        {
            throw new CheckpointException(path, $"cannot be read: {e.Message}", e);
        }

        using (zip)
        {
            var pkl = zip.Entries.Where(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal))
                .OrderBy(e => e.FullName.Count(c => c == '/')).FirstOrDefault()
                ?? throw new CheckpointException(path, "zip archive has no data.pkl: not a PyTorch checkpoint");
            string prefix = pkl.FullName[..^"data.pkl".Length];
            if (pkl.Length > MaxPickleBytes) throw new CheckpointException(path, $"data.pkl is {pkl.Length} bytes, larger than any checkpoint's");
            byte[] pickle = ReadEntry(path, pkl, pkl.Length);

            object? top = RestrictedUnpickler.Load(pickle, path);
            var (model, source) = SelectModel(path, top);
            var root = Walk(path, model, "", new HashSet<PyInstance>(ReferenceEqualityComparer.Instance));
            var attrs = model.Dict!;
            var yaml = ToPlain(path, attrs.Get("yaml"), 0) as Dictionary<string, object?>
                ?? throw new CheckpointException(path, "the model has no 'yaml' architecture dict");
            var names = ReadNames(path, attrs.Get("names"), yaml);

            var storages = new Dictionary<string, byte[]>();
            foreach (var t in root.StateEntries().Select(e => e.Value).Concat(attrs.Get("stride") is TensorRef s ? [s] : []))
                LoadStorage(path, zip, prefix, t.Storage, storages);
            var strides = attrs.Get("stride") is TensorRef sr ? ReadFloats(sr, storages) : [];
            return new YoloCheckpoint(path, root, yaml, names, strides, storages, source);
        }
    }

    /// <summary>Creates a float32 (or int64 for integer storages) CPU tensor for <paramref name="t"/>. The caller owns it.</summary>
    public Tensor ReadTensor(TensorRef t)
    {
        var bytes = _storages[t.Storage.Key];
        using var scope = NewDisposeScope();
        Tensor flat = t.Storage.DType switch
        {
            StorageDType.Float32 => tensor(MemoryMarshal.Cast<byte, float>(bytes).ToArray()),
            StorageDType.Float16 => tensor(HalfToFloat(bytes)),
            StorageDType.BFloat16 => tensor(BFloatToFloat(bytes)),
            StorageDType.Float64 => tensor(MemoryMarshal.Cast<byte, double>(bytes).ToArray()).to(ScalarType.Float32),
            StorageDType.Int64 => tensor(MemoryMarshal.Cast<byte, long>(bytes).ToArray()),
            StorageDType.Int32 => tensor(MemoryMarshal.Cast<byte, int>(bytes).ToArray()).to(ScalarType.Int64),
            _ => tensor(bytes.Select(b => (long)b).ToArray()),
        };
        var view = t.Size.Length == 0
            ? flat[t.Offset].clone()
            : flat.as_strided(t.Size, t.Stride, t.Offset).contiguous();
        return view.MoveToOuterDisposeScope();
    }

    private static float[] ReadFloats(TensorRef t, Dictionary<string, byte[]> storages)
    {
        var bytes = storages[t.Storage.Key];
        float[] all = t.Storage.DType switch
        {
            StorageDType.Float32 => MemoryMarshal.Cast<byte, float>(bytes).ToArray(),
            StorageDType.Float16 => HalfToFloat(bytes),
            StorageDType.Float64 => MemoryMarshal.Cast<byte, double>(bytes).ToArray().Select(d => (float)d).ToArray(),
            _ => [],
        };
        if (t.Size.Length != 1 || all.Length == 0) return [];
        return Enumerable.Range(0, (int)t.Size[0]).Select(i => all[t.Offset + i * t.Stride[0]]).ToArray();
    }

    private static float[] HalfToFloat(byte[] bytes)
    {
        var halves = MemoryMarshal.Cast<byte, Half>(bytes);
        var result = new float[halves.Length];
        for (int i = 0; i < halves.Length; i++) result[i] = (float)halves[i];
        return result;
    }

    private static float[] BFloatToFloat(byte[] bytes)
    {
        var raw = MemoryMarshal.Cast<byte, ushort>(bytes);
        var result = new float[raw.Length];
        for (int i = 0; i < raw.Length; i++) result[i] = BitConverter.Int32BitsToSingle(raw[i] << 16);
        return result;
    }

    private static string DescribeNonZip(string path)
    {
        var head = new byte[2];
        using (var f = File.OpenRead(path)) _ = f.Read(head, 0, 2);
        if (head[0] == 0x80 && head[1] <= 5)
            return "legacy (pre-1.6, non-zip) PyTorch serialization is not supported; re-save it with torch.save in PyTorch >= 1.6";
        if (head[0] == 'P' && head[1] == 'K')
            return "zip archive is damaged or truncated (its central directory cannot be read)";
        return "not a PyTorch checkpoint: the file is not a zip archive";
    }

    private static byte[] ReadEntry(string path, ZipArchiveEntry entry, long expected)
    {
        try
        {
            using var s = entry.Open();
            var buffer = new byte[expected];
            int read = 0;
            while (read < buffer.Length)
            {
                int n = s.Read(buffer, read, buffer.Length - read);
                if (n == 0) break;
                read += n;
            }
            if (read < expected) throw new CheckpointException(path, $"'{entry.FullName}' is truncated: {read} of {expected} bytes");
            return buffer;
        }
        catch (InvalidDataException e)
        {
            throw new CheckpointException(path, $"'{entry.FullName}' is damaged: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new CheckpointException(path, $"'{entry.FullName}' cannot be read (file truncated?): {e.Message}", e);
        }
    }

    private static void LoadStorage(string path, ZipArchive zip, string prefix, StorageRef s, Dictionary<string, byte[]> storages)
    {
        if (storages.ContainsKey(s.Key)) return;
        var name = $"{prefix}data/{s.Key}";
        var entry = zip.GetEntry(name) ?? throw new CheckpointException(path, $"storage '{name}' is missing from the archive");
        long needed = s.Numel * s.ElementSize;
        // Sizes are checked against the archive before anything is allocated.
        if (entry.Length < needed)
            throw new CheckpointException(path, $"storage '{name}' holds {entry.Length} bytes but its tensor needs {needed} ({s.Numel} x {s.DType})");
        storages[s.Key] = ReadEntry(path, entry, needed);
    }

    private static (PyInstance Model, string Source) SelectModel(string path, object? top)
    {
        if (top is PyInstance direct && direct.Type.FullName == "models.yolo.Model") return (direct, "model");
        if (top is not PyDict dict) throw new CheckpointException(path, "data.pkl does not hold a checkpoint dict");
        foreach (var key in new[] { "ema", "model" })
        {
            switch (dict.Get(key))
            {
                case null: continue;
                case PyInstance { Type.FullName: "models.yolo.Model", Dict: not null } m: return (m, key);
                case PyInstance other:
                    throw new CheckpointException(path, $"'{key}' is a '{other.Type.FullName}', not a YOLOv7 models.yolo.Model");
                default:
                    throw new CheckpointException(path, $"'{key}' is not a model object (a bare state_dict needs its architecture; use the full checkpoint)");
            }
        }
        throw new CheckpointException(path, "the checkpoint has neither 'ema' nor 'model'");
    }

    private static CheckpointModule Walk(string path, PyInstance module, string modulePath, HashSet<PyInstance> onPath)
    {
        // A crafted pickle can make a module its own descendant through the memo: refuse cycles and absurd depth.
        if (!onPath.Add(module) || onPath.Count > MaxModuleDepth)
            throw new CheckpointException(path, $"module tree at '{modulePath}' is cyclic or deeper than {MaxModuleDepth} levels");
        var d = module.Dict ?? throw new CheckpointException(path, $"module '{modulePath}' ({module.Type.FullName}) has no state");
        var children = new Dictionary<string, CheckpointModule>();
        if (d.Get("_modules") is PyDict mods)
        {
            foreach (var (k, v) in mods.Items)
            {
                if (v is null) continue;
                var name = k as string ?? throw new CheckpointException(path, $"module '{modulePath}' has a non-string child name");
                if (v is not PyInstance child)
                    throw new CheckpointException(path, $"child '{name}' of '{modulePath}' is not a module");
                children[name] = Walk(path, child, modulePath.Length == 0 ? name : $"{modulePath}.{name}", onPath);
            }
        }
        onPath.Remove(module);
        var nonPersistent = d.Get("_non_persistent_buffers_set") is PySet set ? set.Items.OfType<string>().ToHashSet() : [];
        return new CheckpointModule(modulePath, module.Type, d, children,
            Tensors(path, d.Get("_parameters"), modulePath, _ => true),
            Tensors(path, d.Get("_buffers"), modulePath, n => !nonPersistent.Contains(n)));
    }

    private static Dictionary<string, TensorRef> Tensors(string path, object? dict, string modulePath, Func<string, bool> keep)
    {
        var result = new Dictionary<string, TensorRef>();
        if (dict is not PyDict pd) return result;
        foreach (var (k, v) in pd.Items)
        {
            if (v is null || k is not string name || !keep(name)) continue;
            result[name] = v as TensorRef ?? throw new CheckpointException(path, $"'{modulePath}.{name}' is not a tensor");
        }
        return result;
    }

    private static IReadOnlyList<string> ReadNames(string path, object? names, Dictionary<string, object?> yaml)
    {
        if (names is List<object?> list) return list.Select(n => n?.ToString() ?? "").ToArray();
        if (names is PyDict dict) return dict.Items.OrderBy(kv => kv.Key as long? ?? 0).Select(kv => kv.Value?.ToString() ?? "").ToArray();
        long nc = yaml.GetValueOrDefault("nc") as long? ?? throw new CheckpointException(path, "the model has neither 'names' nor 'nc'");
        return Enumerable.Range(0, (int)nc).Select(i => i.ToString()).ToArray();
    }

    /// <summary>Converts pickled containers into plain .NET values (dictionaries with string keys, lists, scalars).</summary>
    private static object? ToPlain(string path, object? o, int depth)
    {
        if (depth > MaxModuleDepth) throw new CheckpointException(path, "the architecture config is cyclic or nested too deeply");
        return o switch
        {
            PyDict d => d.Items.Where(kv => kv.Key is string).ToDictionary(kv => (string)kv.Key, kv => ToPlain(path, kv.Value, depth + 1)),
            List<object?> l => l.Select(v => ToPlain(path, v, depth + 1)).ToList(),
            PyTuple t => t.Items.Select(v => ToPlain(path, v, depth + 1)).ToList(),
            _ => o,
        };
    }
}
