using System.Runtime.InteropServices;
using Google.Protobuf;
using Onnx;

namespace StreamAnalyzer.Pipeline.Model.Onnx;

/// <summary>
/// Rewrites a channel concatenation read only by 1x1 convolutions as the sum of 1x1 convolutions of its parts (each
/// convolution's weights cut by input channel): the same numbers up to float rounding, without the copy.
/// </summary>
/// <remarks>
/// ONNX Runtime adds a convolution into the buffer of the one before it as it writes it (its blocked layout's "Sum"
/// input), so the concatenation's copy goes. YOLOv7 at 640 spent 8.5 ms a pass in its 17 such concatenations, 0.9 ms
/// after the rewrite; the pass was 1-4% faster (docs/performance.md). Only convolutions followed by SiLU are rewritten:
/// where LeakyReLU follows (YOLOv7-tiny), ONNX Runtime fuses it into a plain convolution but not after a sum, and the
/// rewritten graph was 20% slower.
/// </remarks>
internal static class ConcatsAsConvolutionSums
{
    /// <summary>Rewrites <paramref name="graph"/> in place, leaving its <paramref name="outputs"/> as they are.</summary>
    public static void Apply(GraphProto graph, IReadOnlySet<string> outputs)
    {
        var constants = graph.Initializer.ToDictionary(t => t.Name);
        var channels = Channels(graph, constants);
        var readers = new Dictionary<string, List<NodeProto>>();
        foreach (var node in graph.Node)
            foreach (var input in node.Input)
                (readers.TryGetValue(input, out var list) ? list : readers[input] = []).Add(node);
        IReadOnlyList<NodeProto> ReadersOf(string value) => readers.TryGetValue(value, out var list) ? list : [];

        var rewritten = new Dictionary<NodeProto, NodeProto>();
        foreach (var concat in graph.Node)
        {
            if (concat.OpType != "Concat" || concat.Input.Count < 2 || IntAttribute(concat, "axis") != 1 || outputs.Contains(concat.Output[0])) continue;
            if (!concat.Input.All(channels.ContainsKey)) continue;
            long width = concat.Input.Sum(i => channels[i]);
            var convs = ReadersOf(concat.Output[0]);
            // Every reader a 1x1 convolution of exactly the concatenation's channels (else the graph is left as it is).
            if (convs.All(c => IsPointwiseConv(c, concat.Output[0], constants) && constants[c.Input[1]].Dims[1] == width && FeedsSilu(c.Output[0], ReadersOf(c.Output[0]))))
                foreach (var conv in convs) rewritten[conv] = concat;
        }
        if (rewritten.Count == 0) return;

        var nodes = new List<NodeProto>(graph.Node.Count + rewritten.Count * 4);
        foreach (var node in graph.Node)
        {
            if (!rewritten.TryGetValue(node, out var concat))
            {
                nodes.Add(node);
                continue;
            }
            var weight = constants[node.Input[1]];
            long outChannels = weight.Dims[0], inChannels = weight.Dims[1];
            var all = MemoryMarshal.Cast<byte, float>(weight.RawData.Span);
            string? sum = null;
            long offset = 0;
            for (int p = 0; p < concat.Input.Count; p++)
            {
                long width = channels[concat.Input[p]];
                var part = new float[outChannels * width];
                for (long o = 0; o < outChannels; o++)
                    all.Slice((int)(o * inChannels + offset), (int)width).CopyTo(part.AsSpan((int)(o * width), (int)width));
                offset += width;
                var partWeight = new TensorProto { Name = $"{weight.Name}_part{p}", DataType = weight.DataType, RawData = ByteString.CopyFrom(MemoryMarshal.AsBytes(part.AsSpan())) };
                partWeight.Dims.AddRange([outChannels, width, 1, 1]);
                graph.Initializer.Add(partWeight);

                var conv = node.Clone();
                conv.Name = $"{node.Name}_part{p}";
                conv.Input.Clear();
                conv.Input.Add(concat.Input[p]);
                conv.Input.Add(partWeight.Name);
                if (p == 0 && node.Input.Count > 2) conv.Input.Add(node.Input[2]); // the bias once
                conv.Output.Clear();
                conv.Output.Add($"{node.Output[0]}_part{p}");
                nodes.Add(conv);
                if (sum is null)
                {
                    sum = conv.Output[0];
                    continue;
                }
                var add = new NodeProto { OpType = "Add", Name = $"{node.Name}_sum{p}" };
                add.Input.Add(sum);
                add.Input.Add(conv.Output[0]);
                add.Output.Add(p == concat.Input.Count - 1 ? node.Output[0] : $"{node.Output[0]}_sum{p}");
                nodes.Add(add);
                sum = add.Output[0];
            }
        }
        graph.Node.Clear();
        graph.Node.AddRange(nodes);
    }

    // Channels of each value, where every op on its way is one of those the networks' graphs are made of.
    private static Dictionary<string, long> Channels(GraphProto graph, Dictionary<string, TensorProto> constants)
    {
        var channels = new Dictionary<string, long> { [OnnxGraph.Input] = 3 };
        long? Of(string value) =>
            channels.TryGetValue(value, out var c) ? c : constants.TryGetValue(value, out var t) && t.Dims.Count == 4 ? t.Dims[1] : null;
        foreach (var node in graph.Node)
        {
            long? c = node.OpType switch
            {
                "Conv" => constants.TryGetValue(node.Input[1], out var w) ? w.Dims[0] : null,
                "Concat" when IntAttribute(node, "axis") == 1 => node.Input.Select(Of).Aggregate((long?)0, (a, b) => a + b),
                "Add" or "Mul" or "Sub" or "Sigmoid" or "Relu" or "LeakyRelu" or "HardSwish" or "Tanh" or "Softplus" or "MaxPool" or "Resize"
                    or "BatchNormalization" or "Identity" => node.Input.Where(i => i.Length > 0).Select(Of).Max(),
                _ => null,
            };
            if (c is > 0 && node.Output.Count == 1) channels[node.Output[0]] = c.Value;
        }
        return channels;
    }

    private static bool IsPointwiseConv(NodeProto node, string input, Dictionary<string, TensorProto> constants) =>
        node.OpType == "Conv" && node.Input[0] == input && node.Input.Count <= 3 && constants.TryGetValue(node.Input[1], out var w)
        && w.Dims.Count == 4 && w.Dims[2] == 1 && w.Dims[3] == 1 && w.DataType == (int)TensorProto.Types.DataType.Float
        && IntAttribute(node, "group") is null or 1
        && Ints(node, "strides").All(s => s == 1) && Ints(node, "pads").All(p => p == 0);

    // x * sigmoid(x): the conv's output read by exactly one Sigmoid and one Mul of both.
    private static bool FeedsSilu(string value, IReadOnlyList<NodeProto> readers) =>
        readers.Count == 2 && readers.SingleOrDefault(r => r.OpType == "Sigmoid") is { } sigmoid
        && readers.SingleOrDefault(r => r.OpType == "Mul") is { } mul
        && mul.Input.Contains(value) && mul.Input.Contains(sigmoid.Output[0]);

    private static long? IntAttribute(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name)?.I;

    private static IEnumerable<long> Ints(NodeProto node, string name) => node.Attribute.FirstOrDefault(a => a.Name == name)?.Ints ?? [];
}
