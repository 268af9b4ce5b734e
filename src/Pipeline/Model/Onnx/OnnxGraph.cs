using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;
using StreamAnalyzer.Pipeline.Model.Layers;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Onnx;

/// <summary>
/// Writes the network as an ONNX graph, module by module (each of our layers knows its own ONNX form,
/// <see cref="IOnnxExportable"/>; the torch.nn building blocks are handled here). The graph is built for one input
/// input shape (grids and anchors become constants, and ONNX Runtime can plan every buffer).
/// </summary>
internal sealed class OnnxGraph
{
    /// <summary>The opset the graph is written for.</summary>
    public const int Opset = 17;

    private readonly GraphProto _graph = new() { Name = "stream-analyzer" };
    private int _next;

    public OnnxGraph(int batch, int inputHeight, int inputWidth)
    {
        Batch = batch;
        InputHeight = inputHeight;
        InputWidth = inputWidth;
    }

    /// <summary>Batch size of the network input the graph is built for.</summary>
    public int Batch { get; }

    /// <summary>Height of the network input the graph is built for.</summary>
    public int InputHeight { get; }

    /// <summary>Width of the network input.</summary>
    public int InputWidth { get; }

    private string Fresh(string hint) => $"{hint}_{_next++}";

    /// <summary>Adds a node with one output and returns the output's name.</summary>
    public string Op(string type, IEnumerable<string> inputs, params AttributeProto[] attributes) => Ops(type, inputs, 1, attributes)[0];

    /// <summary>Adds a node with <paramref name="outputs"/> outputs.</summary>
    public string[] Ops(string type, IEnumerable<string> inputs, int outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = type, Name = Fresh(type) };
        node.Input.AddRange(inputs);
        var names = Enumerable.Range(0, outputs).Select(_ => Fresh(type.ToLowerInvariant())).ToArray();
        node.Output.AddRange(names);
        node.Attribute.AddRange(attributes);
        _graph.Node.Add(node);
        return names;
    }

    /// <summary>A float32 constant holding <paramref name="value"/>'s values (any device, any float type).</summary>
    public string Weight(Tensor value)
    {
        using var scope = NewDisposeScope();
        var cpu = value.detach().to(ScalarType.Float32).cpu().contiguous();
        // The tensor's bytes straight into the constant: data<float>().ToArray() reads element by element, ten times
        // slower (writing yolov7-tiny's 6 M weights took 110-120 ms that way against 50-75 ms now, once warm).
        return FloatBytes(cpu.shape, cpu.bytes);
    }

    /// <summary>A float32 constant of shape <paramref name="dims"/>.</summary>
    public string Floats(long[] dims, float[] values) => FloatBytes(dims, MemoryMarshal.AsBytes(values.AsSpan()));

    private string FloatBytes(long[] dims, ReadOnlySpan<byte> raw)
    {
        var t = new TensorProto { Name = Fresh("w"), DataType = (int)TensorProto.Types.DataType.Float, RawData = ByteString.CopyFrom(raw) };
        t.Dims.AddRange(dims);
        _graph.Initializer.Add(t);
        return t.Name;
    }

    /// <summary>A scalar float32 constant.</summary>
    public string Scalar(float value) => Floats([], [value]);

    /// <summary>A one-dimensional int64 constant (shapes, axes, split sizes).</summary>
    public string Int64s(params long[] values)
    {
        var t = new TensorProto { Name = Fresh("i"), DataType = (int)TensorProto.Types.DataType.Int64, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(values.AsSpan())) };
        t.Dims.Add(values.Length);
        _graph.Initializer.Add(t);
        return t.Name;
    }

    public static AttributeProto Int(string name, long value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Float(string name, float value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Text(string name, string value) => new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = ByteString.CopyFromUtf8(value) };

    // Small helpers the layers share.

    public string Add(string a, string b) => Op("Add", [a, b]);

    public string Mul(string a, string b) => Op("Mul", [a, b]);

    public string Sub(string a, string b) => Op("Sub", [a, b]);

    public string Sigmoid(string x) => Op("Sigmoid", [x]);

    /// <summary>SiLU as <c>x * sigmoid(x)</c>.</summary>
    public string Silu(string x) => Mul(x, Sigmoid(x));

    public string Concat(IEnumerable<string> inputs, long axis) => Op("Concat", inputs, Int("axis", axis));

    /// <summary>Reshape to a constant shape (0 keeps that dimension, -1 infers it).</summary>
    public string Reshape(string x, params long[] shape) => Op("Reshape", [x, Int64s(shape)]);

    /// <summary>Reshape to the run-time shape of <paramref name="like"/>.</summary>
    public string ReshapeLike(string x, string like) => Op("Reshape", [x, Op("Shape", [like])]);

    public string Transpose(string x, params long[] perm) => Op("Transpose", [x], Ints("perm", perm));

    /// <summary><c>x[..., start:end:step]</c> along <paramref name="axis"/>.</summary>
    public string Slice(string x, long axis, long start, long end, long step = 1) =>
        Op("Slice", [x, Int64s(start), Int64s(end), Int64s(axis), Int64s(step)]);

    /// <summary>Splits along <paramref name="axis"/> into parts of the given sizes.</summary>
    public string[] Split(string x, long axis, params long[] sizes) => Ops("Split", [x, Int64s(sizes)], sizes.Length, Int("axis", axis));

    /// <summary>The ONNX form of any module the networks are made of.</summary>
    /// <exception cref="NotSupportedException">A module without an ONNX form.</exception>
    public string Module(nn.Module module, string x) => module switch
    {
        IOnnxExportable own => own.ToOnnx(this, [x]),
        Conv2d conv => Conv2d(conv, x),
        BatchNorm2d bn => Op("BatchNormalization", [x, Weight(bn.weight!), Weight(bn.bias!), Weight(bn.running_mean!), Weight(bn.running_var!)],
            Float("epsilon", (float)bn.eps)),
        MaxPool2d pool => MaxPool(pool, x),
        Upsample up => Op("Resize", [x, "", Floats([4], [1, 1, (float)up.scale_factor[0], (float)up.scale_factor[1]])],
            Text("mode", "nearest"), Text("coordinate_transformation_mode", "asymmetric"), Text("nearest_mode", "floor")),
        SiLU => Silu(x),
        LeakyReLU leaky => Op("LeakyRelu", [x], Float("alpha", (float)leaky.negative_slope)),
        ReLU => Op("Relu", [x]),
        TorchSharp.Modules.Sigmoid => Sigmoid(x),
        Hardswish => Op("HardSwish", [x]),
        Mish => Mul(x, Op("Tanh", [Op("Softplus", [x])])),
        Identity => x,
        Sequential seq => seq.children().Aggregate(x, (y, child) => Module(child, y)),
        _ => throw new NotSupportedException($"{module.GetType().Name} has no ONNX form"),
    };

    // Stride-1 "same" max-pools already written, per input and kernel size (SPP's 5, 9 and 13 all read one input).
    private readonly Dictionary<string, SortedList<long, string>> _samePools = [];

    // A k x k stride-1 "same" pool of a j x j one's output is the (j + k - 1) pool of their input, exactly: a maximum
    // over maxima, and padding never wins. So SPP's 9 and 13 are written as 5 x 5 pools of the 5 and the 9, reading 25
    // values per output instead of 81 and 169 (upstream's export and SPPF's cascade compute the same numbers).
    private string MaxPool(MaxPool2d pool, string x)
    {
        long[] k = pool.kernel_size, stride = pool.stride ?? k, pad = pool.padding ?? [0, 0];
        string Write(string input, long[] kernel, long[] strides, long[] pads) => Op("MaxPool", [input], Ints("kernel_shape", kernel),
            Ints("strides", strides), Ints("pads", [.. pads, .. pads]), Int("ceil_mode", pool.ceil_mode ? 1 : 0));
        bool same = k.Length == 2 && k[0] == k[1] && k[0] % 2 == 1 && stride.All(v => v == 1) && pad.All(v => v == k[0] / 2) && !pool.ceil_mode;
        if (!same) return Write(x, k, stride, pad);
        if (!_samePools.TryGetValue(x, out var done)) _samePools[x] = done = [];
        if (!done.TryGetValue(k[0], out var y))
        {
            // The largest pool of this input already written that is smaller than this one, if any.
            int i = done.Keys.Count(j => j < k[0]) - 1;
            long rest = i < 0 ? k[0] : k[0] - done.Keys[i] + 1;
            done[k[0]] = y = Write(i < 0 ? x : done.Values[i], [rest, rest], [1, 1], [rest / 2, rest / 2]);
        }
        return y;
    }

    /// <summary>A convolution (with its bias, if any).</summary>
    public string Conv2d(Conv2d conv, string x) => Conv2d(conv, x, 0, conv.out_channels);

    /// <summary>
    /// The output channels <paramref name="start"/> to <paramref name="start"/> + <paramref name="count"/> of a
    /// convolution, as a convolution of its own.
    /// </summary>
    public string Conv2d(Conv2d conv, string x, long start, long count)
    {
        using var scope = NewDisposeScope();
        bool whole = start == 0 && count == conv.out_channels;
        var inputs = new List<string> { x, Weight(whole ? conv.weight! : conv.weight!.narrow(0, start, count)) };
        if (conv.bias is { } bias) inputs.Add(Weight(whole ? bias : bias.narrow(0, start, count)));
        var pads = conv.padding ?? [0, 0];
        return Op("Conv", inputs, Ints("kernel_shape", conv.kernel_size), Ints("strides", conv.stride), Ints("pads", [pads[0], pads[1], pads[0], pads[1]]),
            Ints("dilations", conv.dilation), Int("group", conv.groups));
    }

    /// <summary>The graph's input (B, 3, H, W): the name the first layer reads.</summary>
    public const string Input = "images";

    /// <summary>
    /// The finished model: input <see cref="Input"/>, float32 outputs under their names. Nodes and constants no output
    /// depends on are left out: ONNX Runtime would run them (a head's unused logits cost a transpose of every row).
    /// Concatenations read only by 1x1 convolutions become sums (<see cref="ConcatsAsConvolutionSums"/>).
    /// </summary>
    public ModelProto ToModel(IReadOnlyList<(string Value, string Name)> outputs)
    {
        var values = outputs.Select(o => o.Value).ToHashSet();
        Prune(values);
        ConcatsAsConvolutionSums.Apply(_graph, values);
        Prune(values);
        _graph.Input.Add(Tensor4D(Input, [Batch, 3, InputHeight, InputWidth]));
        // Give the graph's values the public names (Identity nodes are removed by the optimiser).
        foreach (var (value, name) in outputs)
        {
            var node = new NodeProto { OpType = "Identity", Name = Fresh("out") };
            node.Input.Add(value);
            node.Output.Add(name);
            _graph.Node.Add(node);
            _graph.Output.Add(new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float } } });
        }
        var model = new ModelProto { IrVersion = 8, ProducerName = "StreamAnalyzer", Graph = _graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
        return model;
    }

    private void Prune(IEnumerable<string> outputs)
    {
        var needed = new HashSet<string>(outputs);
        var kept = new List<NodeProto>();
        for (int i = _graph.Node.Count - 1; i >= 0; i--)
        {
            var node = _graph.Node[i];
            if (!node.Output.Any(needed.Contains)) continue;
            kept.Add(node);
            needed.UnionWith(node.Input.Where(name => name.Length > 0));
        }
        kept.Reverse();
        var constants = _graph.Initializer.Where(t => needed.Contains(t.Name)).ToList();
        _graph.Node.Clear();
        _graph.Node.AddRange(kept);
        _graph.Initializer.Clear();
        _graph.Initializer.AddRange(constants);
    }

    private static ValueInfoProto Tensor4D(string name, long[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims) shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
