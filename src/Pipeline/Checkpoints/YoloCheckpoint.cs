using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Checkpoints;

/// <summary>
/// A YOLO checkpoint (PyTorch zip format) of any supported family - YOLOv7, YOLOv5, Ultralytics YOLOv8/YOLO11 -
/// read without executing anything it names: the family (from the pickled model class and the classes it is made
/// of), the pickled module tree, the architecture config (<c>yaml</c>), class names, strides and the full state
/// dict. Upstream's loading semantics: <c>ema</c> is used when present, else <c>model</c>.
/// </summary>
public sealed class YoloCheckpoint
{
    private const int MaxModuleDepth = 64;
    private readonly Dictionary<string, byte[]> _storages;

    private YoloCheckpoint(string path, CheckpointProfile profile, CheckpointModule root, IReadOnlyDictionary<string, object?> yaml,
        IReadOnlyList<string> names, float[] strides, Dictionary<string, byte[]> storages, string source)
    {
        FilePath = path;
        Profile = profile;
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

    /// <summary>The family the checkpoint belongs to.</summary>
    public CheckpointProfile Profile { get; }

    /// <summary>The pickled model (<c>models.yolo.Model</c>, <c>ultralytics.nn.tasks.DetectionModel</c>, ...) as a module tree.</summary>
    public CheckpointModule Root { get; }

    /// <summary>The parsed architecture config (<c>nc</c>, <c>backbone</c>, <c>head</c>, ...); empty when the file has none.</summary>
    public IReadOnlyDictionary<string, object?> Yaml { get; }

    /// <summary>Class names (<c>model.names</c>).</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Strides of the detection levels (<c>model.stride</c>), e.g. 8, 16, 32.</summary>
    public float[] Strides { get; }

    /// <summary>"ema" or "model": which entry of the checkpoint the network came from.</summary>
    public string ModelSource { get; }

    /// <summary>The state dict: tensor references keyed like upstream's <c>state_dict()</c> (<c>model.0.conv.weight</c>).</summary>
    public IReadOnlyDictionary<string, TensorRef> State { get; }

    /// <summary>Reads and validates a checkpoint.</summary>
    /// <exception cref="CheckpointException">Anything wrong with the file, named specifically.</exception>
    public static YoloCheckpoint Load(string path)
    {
        using var archive = TorchArchive.Open(path);
        var data = RestrictedUnpickler.Load(archive.ReadPickle(), path);
        var (model, source) = SelectModel(path, data.Root);
        var profile = IdentifyFamily(path, model, data.ClassesNamed);
        var root = Walk(path, model, "", new HashSet<PyInstance>(ReferenceEqualityComparer.Instance));
        var attrs = model.Dict!;
        var yaml = ToPlain(path, attrs.Get("yaml"), 0) as Dictionary<string, object?> ?? [];
        var names = ReadNames(path, attrs.Get("names"), yaml);

        var storages = new Dictionary<string, byte[]>();
        foreach (var t in root.StateEntries().Select(e => e.Value).Concat(attrs.Get("stride") is TensorRef s ? [s] : []))
            if (!storages.ContainsKey(t.Storage.Key)) storages[t.Storage.Key] = archive.ReadStorage(t.Storage);
        var strides = attrs.Get("stride") is TensorRef sr ? ReadFloats(sr, storages) : [];
        return new YoloCheckpoint(path, profile, root, yaml, names, strides, storages, source);
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

    private static bool IsModelClass(PyGlobal type) => CheckpointProfile.All.Any(p => p.ModelClasses.Contains(type.FullName));

    private static (PyInstance Model, string Source) SelectModel(string path, object? top)
    {
        if (top is PyInstance { Dict: not null } direct && IsModelClass(direct.Type)) return (direct, "model");
        if (top is not PyDict dict) throw new CheckpointException(path, "data.pkl does not hold a checkpoint dict");
        foreach (var key in new[] { "ema", "model" })
        {
            switch (dict.Get(key))
            {
                case null: continue;
                case PyInstance { Dict: not null } m when IsModelClass(m.Type): return (m, key);
                case PyInstance other:
                    throw new CheckpointException(path, $"'{key}' is a '{other.Type.FullName}', not a detection model of a supported family " +
                        $"({string.Join(", ", CheckpointProfile.All.SelectMany(p => p.ModelClasses).Distinct())})");
                default:
                    throw new CheckpointException(path, $"'{key}' is not a model object (a bare state_dict needs its architecture; use the full checkpoint)");
            }
        }
        throw new CheckpointException(path, "the checkpoint has neither 'ema' nor 'model'");
    }

    private static CheckpointProfile IdentifyFamily(string path, PyInstance model, IReadOnlyDictionary<string, long> classesNamed)
    {
        var profile = CheckpointProfile.Match(model.Type.FullName, classesNamed.Keys.ToArray());
        if (profile is not null) return profile;
        // No single family accounts for every class: name the first class that the closest family does not know.
        var (family, foreign) = CheckpointProfile.All.Where(p => p.ModelClasses.Contains(model.Type.FullName))
            .Select(p => (p, classesNamed.Where(c => !CheckpointProfile.TorchClasses.Contains(c.Key)
                && !p.ModelClasses.Contains(c.Key) && !p.ModuleClasses.Contains(c.Key)).OrderBy(c => c.Value).ToArray()))
            .OrderBy(m => m.Item2.Length).First();
        throw new CheckpointException(path, foreign.Length == 0
            ? $"'{model.Type.FullName}' is made of classes of no single supported family"
            : $"data.pkl at byte {foreign[0].Value}: '{foreign[0].Key}' is not a class of a {family.DisplayName} checkpoint " +
              $"(model class '{model.Type.FullName}'); refusing a pickle that mixes families");
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
