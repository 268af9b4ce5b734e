using System.Globalization;
using System.Text.RegularExpressions;
using StreamAnalyzer.Pipeline.Checkpoints;
using StreamAnalyzer.Pipeline.Model.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model;

/// <summary>
/// Builds the network from the architecture config stored in a checkpoint, as upstream's <c>parse_model</c> does:
/// depth and width multiples, channel rounding to multiples of 8, <c>from</c> indices, string arguments.
/// Hyper-parameters that the config does not carry (BatchNorm eps, paddings, activation slopes) come from the
/// pickled modules.
/// </summary>
internal static partial class YoloNetworkBuilder
{
    [GeneratedRegex(@"^nn\.(\w+)\((.*)\)$")]
    private static partial Regex ModuleCall();

    public static NetworkBlueprint Build(IReadOnlyDictionary<string, object?> yaml, CheckpointModule? root)
    {
        long nc = AsLong(yaml.GetValueOrDefault("nc"), "nc");
        double gd = AsDouble(yaml.GetValueOrDefault("depth_multiple"), "depth_multiple");
        double gw = AsDouble(yaml.GetValueOrDefault("width_multiple"), "width_multiple");
        object? anchorsCfg = yaml.GetValueOrDefault("anchors");
        long na = anchorsCfg is List<object?> al && al.Count > 0 && al[0] is List<object?> first ? first.Count / 2 : AsLong(anchorsCfg, "anchors");
        long no = na * (nc + 5);
        long inputChannels = yaml.GetValueOrDefault("ch") as long? ?? 3;

        var rows = Rows(yaml, "backbone").Concat(Rows(yaml, "head")).ToList();
        var ch = new List<long> { inputChannels };
        var layers = new List<nn.Module>();
        var infos = new List<(int[] From, string Module)>();
        AnchorDetectHead? head = null;
        int[] headFrom = [];

        for (int i = 0; i < rows.Count; i++)
        {
            string where = $"layer {i}";
            if (rows[i] is not List<object?> { Count: 4 } row)
                throw new ArchitectureException($"{where}: expected [from, number, module, args]");
            int[] from = row[0] switch
            {
                long f => [(int)f],
                List<object?> fs => fs.Select(v => (int)AsLong(v, $"{where} from")).ToArray(),
                _ => throw new ArchitectureException($"{where}: 'from' is neither an index nor a list"),
            };
            long n = AsLong(row[1], $"{where} number");
            string module = row[2] as string ?? throw new ArchitectureException($"{where}: module name is not a string");
            var args = (row[3] as List<object?> ?? []).Select(a => EvalArg(a, nc, anchorsCfg)).ToList();
            if (n > 1) n = Math.Max((long)Math.Round(n * gd, MidpointRounding.ToEven), 1);
            if (n is < 1 or > 64) throw new ArchitectureException($"{where}: repeated {n} times, more than any YOLO config");

            long Ch(int f) => f < 0 ? ch[ch.Count + f] : ch[f];
            int Abs(int f) => f < 0 ? i + f : f;
            foreach (var f in from)
                if (i == 0 ? f != -1 : Abs(f) < 0 || Abs(f) >= i)
                    throw new ArchitectureException($"{where}: input {f} does not refer to an earlier layer");

            var node = root?.Find($"model.{i}");
            long c2;
            Func<int, nn.Module> make;
            switch (module)
            {
                case "Conv" or "RepConv" or "DownC" or "SPPCSPC":
                {
                    long c1 = Ch(from[0]);
                    c2 = AsLong(args.ElementAtOrDefault(0), $"{where} channels");
                    if (c2 != no) c2 = MakeDivisible(c2 * gw, 8);
                    long cin = c1, cout = c2;
                    make = module switch
                    {
                        "Conv" => _ => Conv.Create(node, cin, cout, ArgLong(args, 1, 1), ArgLong(args, 2, 1),
                            args.ElementAtOrDefault(3) is long p ? p : null, ArgLong(args, 4, 1), ActArg(args, 5), where),
                        "RepConv" => _ => RepConv.Create(node, cin, cout, ArgLong(args, 1, 3), ArgLong(args, 2, 1), ArgLong(args, 4, 1),
                            ActArg(args, 5), where),
                        "DownC" => _ => DownC.Create(node, cin, cout, ArgLong(args, 1, 2), where),
                        // Config args are [c2, shortcut, g, e, k] (upstream inserts c1 and n in front).
                        _ => _ => SppCspc.Create(node, cin, cout, args.ElementAtOrDefault(3) switch { double e => e, long e => e, _ => 0.5 },
                            args.ElementAtOrDefault(4) is List<object?> ks ? ks.Select(k => AsLong(k, where)).ToArray() : [5, 9, 13], where),
                    };
                    if (module is "DownC" or "SPPCSPC") n = 1; // repeats go inside these blocks upstream
                    break;
                }
                case "Concat":
                    c2 = from.Sum(Ch);
                    long dim = ArgLong(args, 0, 1);
                    make = _ => new Concat(dim);
                    break;
                case "Shortcut":
                    c2 = Ch(from[0]);
                    make = _ => new Shortcut();
                    break;
                case "ReOrg":
                    c2 = Ch(from[0]) * 4;
                    make = _ => new ReOrg();
                    break;
                case "MP":
                    c2 = Ch(from[0]);
                    make = _ => MaxPoolLayer.MP(node, ArgLong(args, 0, 2));
                    break;
                case "SP":
                    c2 = Ch(from[0]);
                    make = _ => MaxPoolLayer.SP(node, ArgLong(args, 0, 3), ArgLong(args, 1, 1));
                    break;
                case "nn.Upsample":
                {
                    c2 = Ch(from[0]);
                    double scale = args.ElementAtOrDefault(1) is long s ? s : args.ElementAtOrDefault(1) as double? ?? 2;
                    string mode = args.ElementAtOrDefault(2) as string ?? "nearest";
                    make = _ => ModuleHints.Upsample(node, where, scale, mode);
                    break;
                }
                case "Detect" or "IDetect" or "IAuxDetect":
                {
                    c2 = 0;
                    var chIn = from.Select(Ch).ToArray();
                    var anchorRows = args.ElementAtOrDefault(1) switch
                    {
                        List<object?> rowsA => rowsA.Select(r => (r as List<object?> ?? throw new ArchitectureException($"{where}: bad anchors"))
                            .Select(v => AsLong(v is double d ? (long)Math.Round(d) : v, where)).ToArray()).ToList(),
                        long count => Enumerable.Repeat(Enumerable.Range(0, (int)count * 2).Select(v => (long)v).ToArray(), from.Length).ToList(),
                        _ => throw new ArchitectureException($"{where}: {module} has no anchors"),
                    };
                    long ncHead = ArgLong(args, 0, nc);
                    make = _ => head = AnchorDetectHead.Create(module, node, ncHead, anchorRows, chIn, where);
                    headFrom = from.Select(Abs).ToArray();
                    if (module == "IAuxDetect") headFrom = headFrom[..anchorRows.Count];
                    break;
                }
                default:
                    throw new ArchitectureException($"{where}: module '{module}' is not supported");
            }

            nn.Module layer = n > 1
                ? nn.Sequential(Enumerable.Range(0, (int)n).Select(j => (nn.Module<Tensor, Tensor>)make(j)).ToArray())
                : make(0);
            layers.Add(layer);
            infos.Add((from.Select(Abs).ToArray(), module));
            if (i == 0) ch.Clear();
            ch.Add(c2);
        }

        if (head is null || !ReferenceEquals(layers[^1], head))
            throw new ArchitectureException("the last layer of the architecture is not a Detect, IDetect or IAuxDetect head");
        return new NetworkBlueprint(layers, infos.Select(r => r.From).ToArray(), infos.Select(r => r.Module).ToArray(), head, headFrom);
    }

    private static IEnumerable<object?> Rows(IReadOnlyDictionary<string, object?> yaml, string key) =>
        yaml.GetValueOrDefault(key) as List<object?> ?? throw new ArchitectureException($"the architecture has no '{key}' list");

    /// <summary>upstream <c>make_divisible</c>: the next multiple of <paramref name="divisor"/>.</summary>
    public static long MakeDivisible(double x, long divisor) => (long)Math.Ceiling(x / divisor) * divisor;

    // What upstream's eval() of a string argument yields, for the strings the official configs use.
    private static object? EvalArg(object? a, long nc, object? anchors)
    {
        if (a is not string s) return a;
        switch (s)
        {
            case "None": return null;
            case "True": return true;
            case "False": return false;
            case "nc": return nc;
            case "anchors": return anchors;
        }
        var call = ModuleCall().Match(s);
        if (call.Success)
        {
            double slope = 0.01;
            if (call.Groups[1].Value == "LeakyReLU" && call.Groups[2].Value.Length > 0)
                slope = double.Parse(call.Groups[2].Value.Split('=').Last(), CultureInfo.InvariantCulture);
            return new ActivationSpec(call.Groups[1].Value, slope);
        }
        if (long.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out var l)) return l;
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)) return d;
        return s; // e.g. 'nearest': eval fails upstream and the string is kept
    }

    private static ActivationSpec ActArg(List<object?> args, int index) => args.ElementAtOrDefault(index) switch
    {
        ActivationSpec a => a,
        false => new ActivationSpec("Identity", 0),
        _ => ActivationSpec.SiLU,
    };

    private static long ArgLong(List<object?> args, int index, long fallback) => args.ElementAtOrDefault(index) switch
    {
        long l => l,
        null => fallback,
        var other => throw new ArchitectureException($"argument {index} is '{other}', expected an integer"),
    };

    private static long AsLong(object? o, string what) => o switch
    {
        long l => l,
        _ => throw new ArchitectureException($"'{what}' is '{o ?? "None"}', expected an integer"),
    };

    private static double AsDouble(object? o, string what) => o switch
    {
        double d => d,
        long l => l,
        _ => throw new ArchitectureException($"'{what}' is '{o ?? "None"}', expected a number"),
    };
}
