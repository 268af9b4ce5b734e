using System.Buffers;
using System.Runtime.InteropServices;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model;

/// <summary>
/// A few layers of the network - a level's head branch, and the head input's block where the explanation starts below
/// it - written out as stride-1 convolutions without padding, channel joins, slices, sums and per-channel affines,
/// with their input gradients, in managed code (float32, CPU). It computes what the layers' unpadded window forward
/// (<see cref="Layers.UnpaddedWindow"/>) computes, and the gradients autograd would give on it. On windows this small
/// (a few cells, a few hundred channels) libtorch's per-operation cost - memory descriptors, allocations, the autograd
/// graph - is many times the arithmetic; here there is none of it.
/// </summary>
internal sealed class WindowProgram
{
    private readonly Step[] _steps;
    private readonly NodeShape[] _nodes;

    private WindowProgram(Step[] steps, NodeShape[] nodes, int output, int? headInput)
    {
        _steps = steps;
        _nodes = nodes;
        Output = output;
        HeadInput = headInput;
    }

    /// <summary>The node of the window cut from the input layer.</summary>
    public int Input => 0;

    /// <summary>The node of the head's output for the level (its logits map).</summary>
    public int Output { get; }

    /// <summary>The node of the head input, where the program computes it from the input layer (null where the input is the head input).</summary>
    public int? HeadInput { get; }

    /// <summary>Channels of a node.</summary>
    public int Channels(int node) => _nodes[node].Channels;

    /// <summary>Side of a node's map for input windows of side <paramref name="side"/> (below 1: the layers need a larger window).</summary>
    public int SideOf(int node, int side) => side - 2 * _nodes[node].Margin;

    /// <summary>
    /// Runs the layers on <paramref name="batch"/> windows (channels, side, side) laid out one after the other in
    /// <paramref name="input"/>. Where a window reaches past the map's edge, <paramref name="inMap"/> gives each window's
    /// part inside the map (rows and columns, end exclusive, in window cells; null: all of every window): the input
    /// must be zero outside it, and every layer's output is set to zero there, as the padding of the layers after it is.
    /// </summary>
    public Pass Forward(ReadOnlySpan<float> input, int batch, int side, (int Y0, int Y1, int X0, int X1)[]? inMap = null)
    {
        if (SideOf(Output, side) < 1) throw new ArgumentException($"windows of side {side} are too small for these layers", nameof(side));
        var pass = new Pass(this, batch, side, inMap);
        var first = pass.Values(Input);
        if (input.Length != first.Length) throw new ArgumentException($"{input.Length} input values for {first.Length}", nameof(input));
        input.CopyTo(first);
        foreach (var step in _steps)
        {
            step.Forward(pass);
            pass.MaskOutside(step.OutputNode, gradient: false);
        }
        return pass;
    }

    private readonly record struct NodeShape(int Channels, int Margin);

    /// <summary>One run: every node's values and, after <see cref="Backward"/>, gradients. Buffers are pooled until disposed.</summary>
    internal sealed class Pass : IDisposable
    {
        private readonly WindowProgram _program;
        private readonly float[]?[] _values;
        private readonly float[]?[] _grads;
        private readonly float[]?[] _pre;
        private readonly List<float[]> _rented = [];

        private readonly (int Y0, int Y1, int X0, int X1)[]? _inMap;

        public Pass(WindowProgram program, int batch, int side, (int Y0, int Y1, int X0, int X1)[]? inMap)
        {
            _program = program;
            Batch = batch;
            Side = side;
            _inMap = inMap;
            _values = new float[]?[program._nodes.Length];
            _grads = new float[]?[program._nodes.Length];
            _pre = new float[]?[program._steps.Length];
        }

        /// <summary>Windows in the batch.</summary>
        public int Batch { get; }

        /// <summary>Side of the input windows.</summary>
        public int Side { get; }

        /// <summary>Side of a node's map: the input's less its margin on each side.</summary>
        public int SideOf(int node) => _program.SideOf(node, Side);

        /// <summary>Floats of one item of a node.</summary>
        public int ItemLength(int node) => _program._nodes[node].Channels * SideOf(node) * SideOf(node);

        /// <summary>A node's values, (batch, channels, side, side).</summary>
        public Span<float> Values(int node) => (_values[node] ??= Rent(Batch * ItemLength(node), clear: false)).AsSpan(0, Batch * ItemLength(node));

        /// <summary>A node's gradient, (batch, channels, side, side); zeros until something flows into it.</summary>
        public Span<float> Gradient(int node) => (_grads[node] ??= Rent(Batch * ItemLength(node), clear: true)).AsSpan(0, Batch * ItemLength(node));

        internal Span<float> Pre(int step, int length) => (_pre[step] ??= Rent(length, clear: false)).AsSpan(0, length);

        internal float[] Scratch(int length) => Rent(length, clear: false);

        /// <summary>
        /// Propagates <paramref name="outputGradient"/> (the gradient of the output node's values) back to every node. Values
        /// set to zero outside the map pass no gradient back.
        /// </summary>
        public void Backward(ReadOnlySpan<float> outputGradient)
        {
            outputGradient.CopyTo(Gradient(_program.Output));
            for (int i = _program._steps.Length - 1; i >= 0; i--)
            {
                MaskOutside(_program._steps[i].OutputNode, gradient: true);
                _program._steps[i].Backward(this, i);
            }
            MaskOutside(_program.Input, gradient: true);
        }

        // Zeroes a node's cells outside the map, item by item.
        internal void MaskOutside(int node, bool gradient)
        {
            if (_inMap is null) return;
            int margin = _program._nodes[node].Margin, s = SideOf(node), plane = s * s, length = ItemLength(node), channels = length / plane;
            var values = gradient ? Gradient(node) : Values(node);
            for (int b = 0; b < Batch; b++)
            {
                var (y0, y1, x0, x1) = _inMap[b];
                // The part inside the map, in this node's cells.
                int top = Math.Clamp(y0 - margin, 0, s), bottom = Math.Clamp(y1 - margin, 0, s);
                int left = Math.Clamp(x0 - margin, 0, s), right = Math.Clamp(x1 - margin, 0, s);
                if (top == 0 && bottom == s && left == 0 && right == s) continue;
                for (int c = 0; c < channels; c++)
                    for (int row = 0; row < s; row++)
                    {
                        var line = values.Slice(b * length + c * plane + row * s, s);
                        if (row < top || row >= bottom) line.Clear();
                        else
                        {
                            line[..left].Clear();
                            line[right..].Clear();
                        }
                    }
            }
        }

        private float[] Rent(int length, bool clear)
        {
            var array = ArrayPool<float>.Shared.Rent(Math.Max(length, 1));
            if (clear) Array.Clear(array, 0, length);
            _rented.Add(array);
            return array;
        }

        /// <inheritdoc/>
        public void Dispose()
        {
            foreach (var array in _rented) ArrayPool<float>.Shared.Return(array);
            _rented.Clear();
        }
    }

    private abstract class Step(int output)
    {
        public int OutputNode { get; } = output;

        public abstract void Forward(Pass pass);

        public abstract void Backward(Pass pass, int index);

        // Between an input node, cut to the output's centre, and the output's channels from firstChannel on: Copy and
        // Add write (or add) the input's values into the output; Back adds the output's gradient to the input's.
        protected static void Centre(Pass pass, int input, int output, int firstChannel, Transfer how)
        {
            int t = pass.SideOf(output), s = pass.SideOf(input), margin = (s - t) / 2;
            int inLength = pass.ItemLength(input), outLength = pass.ItemLength(output), channels = inLength / (s * s);
            var x = how == Transfer.Back ? pass.Gradient(input) : pass.Values(input);
            var y = how == Transfer.Back ? pass.Gradient(output) : pass.Values(output);
            for (int item = 0; item < pass.Batch; item++)
                for (int c = 0; c < channels; c++)
                    for (int row = 0; row < t; row++)
                    {
                        var inner = x.Slice(item * inLength + (c * s + row + margin) * s + margin, t);
                        var outer = y.Slice(item * outLength + ((firstChannel + c) * t + row) * t, t);
                        switch (how)
                        {
                            case Transfer.Copy: inner.CopyTo(outer); break;
                            case Transfer.Add: WindowKernels.AddScaled(outer, inner, 1); break;
                            default: WindowKernels.AddScaled(inner, outer, 1); break;
                        }
                    }
        }
    }

    private enum Transfer
    {
        Copy,
        Add,
        Back,
    }

    // A stride-1 convolution without padding, its bias and activation.
    private sealed class ConvStep(int input, int output, float[] weight, float[] bias, int channels, int outChannels, int groups, int k,
        WindowActivation activation, float slope, int index) : Step(output)
    {
        private readonly float[] _forward = WindowKernels.PackForward(weight, outChannels, groups, channels / groups * k * k);
        private readonly float[] _backward = WindowKernels.PackBackward(weight, outChannels, groups, channels / groups * k * k);

        private int Row => channels / groups * k * k;

        public override void Forward(Pass pass)
        {
            int s = pass.SideOf(input), t = pass.SideOf(OutputNode);
            int inLength = pass.ItemLength(input), outLength = pass.ItemLength(OutputNode);
            var x = pass.Values(input);
            var y = pass.Values(OutputNode);
            var pre = activation == WindowActivation.Identity ? y : pass.Pre(index, pass.Batch * outLength);
            var cols = pass.Scratch(t * t * Row);
            var product = pass.Scratch(t * t * outChannels / groups);
            for (int b = 0; b < pass.Batch; b++)
                WindowKernels.Convolve(x.Slice(b * inLength, inLength), channels, s, _forward, bias, outChannels, groups, k, pre.Slice(b * outLength, outLength), cols, product);
            if (activation != WindowActivation.Identity) WindowKernels.Activate(activation, slope, pre, y);
        }

        public override void Backward(Pass pass, int index)
        {
            int s = pass.SideOf(input), t = pass.SideOf(OutputNode);
            int inLength = pass.ItemLength(input), outLength = pass.ItemLength(OutputNode);
            Span<float> dy = pass.Gradient(OutputNode);
            if (activation != WindowActivation.Identity)
            {
                // The pre-activation's gradient in a buffer of its own: the output's may be read after (a head input's).
                var pre = pass.Pre(index, pass.Batch * outLength);
                var dpre = pass.Scratch(pre.Length).AsSpan(0, pre.Length);
                dy.CopyTo(dpre);
                WindowKernels.ActivateBackward(activation, slope, pre, dpre);
                dy = dpre;
            }
            var dx = pass.Gradient(input);
            var cols = pass.Scratch(t * t * Row);
            var product = pass.Scratch(t * t * outChannels / groups);
            for (int b = 0; b < pass.Batch; b++)
                WindowKernels.ConvolveBackward(dy.Slice(b * outLength, outLength), channels, s, _backward, outChannels, groups, k, dx.Slice(b * inLength, inLength), cols, product);
        }
    }

    // Inputs joined along channels, each cut to the centre the smallest of them has.
    private sealed class ConcatStep(int[] inputs, int output) : Step(output)
    {
        public override void Forward(Pass pass) => Each(pass, Transfer.Copy);

        public override void Backward(Pass pass, int index) => Each(pass, Transfer.Back);

        private void Each(Pass pass, Transfer how)
        {
            int channel = 0;
            foreach (int input in inputs)
            {
                Centre(pass, input, OutputNode, channel, how);
                channel += pass.ItemLength(input) / (pass.SideOf(input) * pass.SideOf(input));
            }
        }
    }

    // Channels [first, first + count) of the input.
    private sealed class SliceStep(int input, int output, int first) : Step(output)
    {
        public override void Forward(Pass pass)
        {
            int inLength = pass.ItemLength(input), outLength = pass.ItemLength(OutputNode), plane = pass.SideOf(input) * pass.SideOf(input);
            var x = pass.Values(input);
            var y = pass.Values(OutputNode);
            for (int b = 0; b < pass.Batch; b++) x.Slice(b * inLength + first * plane, outLength).CopyTo(y.Slice(b * outLength, outLength));
        }

        public override void Backward(Pass pass, int index)
        {
            int inLength = pass.ItemLength(input), outLength = pass.ItemLength(OutputNode), plane = pass.SideOf(input) * pass.SideOf(input);
            var dx = pass.Gradient(input);
            var dy = pass.Gradient(OutputNode);
            for (int b = 0; b < pass.Batch; b++)
            {
                var target = dx.Slice(b * inLength + first * plane, outLength);
                WindowKernels.AddScaled(target, dy.Slice(b * outLength, outLength), 1);
            }
        }
    }

    // a + b, each cut to the centre of the smaller.
    private sealed class AddStep(int a, int b, int output) : Step(output)
    {
        public override void Forward(Pass pass)
        {
            Centre(pass, a, OutputNode, 0, Transfer.Copy);
            Centre(pass, b, OutputNode, 0, Transfer.Add);
        }

        public override void Backward(Pass pass, int index)
        {
            Centre(pass, a, OutputNode, 0, Transfer.Back);
            Centre(pass, b, OutputNode, 0, Transfer.Back);
        }
    }

    // x * scale + shift per channel (YOLOR's implicit multiply and add).
    private sealed class AffineStep(int input, int output, float[]? scale, float[]? shift) : Step(output)
    {
        private delegate void PlaneStep(ReadOnlySpan<float> from, Span<float> to, int channel);

        public override void Forward(Pass pass) =>
            EachPlane(pass, pass.Values(input), pass.Values(OutputNode), (from, to, c) => WindowKernels.Affine(from, scale?[c] ?? 1, shift?[c] ?? 0, to));

        public override void Backward(Pass pass, int index) =>
            EachPlane(pass, pass.Gradient(OutputNode), pass.Gradient(input), (dy, dx, c) => WindowKernels.AddScaled(dx, dy, scale?[c] ?? 1));

        // The step on each (item, channel) plane of two nodes of the input's shape.
        private void EachPlane(Pass pass, Span<float> from, Span<float> to, PlaneStep step)
        {
            int plane = pass.SideOf(input) * pass.SideOf(input), length = pass.ItemLength(input), channels = length / plane;
            for (int b = 0; b < pass.Batch; b++)
                for (int c = 0; c < channels; c++) step(from.Slice(b * length + c * plane, plane), to.Slice(b * length + c * plane, plane), c);
        }
    }

    /// <summary>
    /// Writes layers out as a program, node by node from the input window. Each method returns the new node, or null
    /// where the layer is not one the program can run (then the caller keeps libtorch's path).
    /// </summary>
    internal sealed class Builder
    {
        private readonly List<Step> _steps = [];
        private readonly List<NodeShape> _nodes = [];

        /// <summary>Starts a program whose input window has <paramref name="inputChannels"/> channels.</summary>
        public Builder(int inputChannels) => _nodes.Add(new NodeShape(inputChannels, 0));

        /// <summary>The input window's node.</summary>
        public int Input => 0;

        /// <summary>A stride-1 convolution (odd square kernel, any groups) run without its padding, then its activation (SiLU, LeakyReLU, ReLU or none).</summary>
        public int? Conv(Conv2d conv, nn.Module<Tensor, Tensor>? activation, int x)
        {
            if (conv.stride.Any(s => s != 1) || conv.dilation.Any(d => d != 1) || conv.kernel_size[0] != conv.kernel_size[1]) return null;
            var (kind, slope) = activation switch
            {
                null or Identity => (WindowActivation.Identity, 0f),
                SiLU => (WindowActivation.SiLU, 0f),
                ReLU => (WindowActivation.ReLU, 0f),
                Layers.LeakyRelu leaky => (WindowActivation.LeakyReLU, (float)leaky.NegativeSlope),
                _ => ((WindowActivation?)null, 0f),
            };
            if (kind is not { } act) return null;
            int channels = _nodes[x].Channels, outChannels = (int)conv.out_channels, groups = (int)conv.groups, k = (int)conv.kernel_size[0];
            if (conv.in_channels != channels || k % 2 == 0) return null;
            var weight = Floats(conv.weight!);
            var bias = conv.bias is { } b ? Floats(b) : new float[outChannels];
            int y = Node(outChannels, _nodes[x].Margin + (k - 1) / 2);
            _steps.Add(new ConvStep(x, y, weight, bias, channels, outChannels, groups, k, act, slope, _steps.Count));
            return y;
        }

        /// <summary>Nodes joined along channels, each cut to the centre of the smallest.</summary>
        public int Concat(IReadOnlyList<int> xs)
        {
            int y = Node(xs.Sum(x => _nodes[x].Channels), xs.Max(x => _nodes[x].Margin));
            _steps.Add(new ConcatStep(xs.ToArray(), y));
            return y;
        }

        /// <summary>The node's channels split into <paramref name="parts"/> equal parts (<c>chunk</c>).</summary>
        public int[] Chunk(int x, int parts)
        {
            int size = _nodes[x].Channels / parts;
            return Enumerable.Range(0, parts).Select(i =>
            {
                int y = Node(size, _nodes[x].Margin);
                _steps.Add(new SliceStep(x, y, i * size));
                return y;
            }).ToArray();
        }

        /// <summary><paramref name="a"/> + <paramref name="b"/>, cut to the smaller's centre.</summary>
        public int Add(int a, int b)
        {
            int y = Node(_nodes[b].Channels, Math.Max(_nodes[a].Margin, _nodes[b].Margin));
            _steps.Add(new AddStep(a, b, y));
            return y;
        }

        /// <summary><c>x * scale + shift</c> per channel; either may be null.</summary>
        public int Affine(int x, Tensor? scale, Tensor? shift)
        {
            int y = Node(_nodes[x].Channels, _nodes[x].Margin);
            _steps.Add(new AffineStep(x, y, scale is null ? null : Floats(scale), shift is null ? null : Floats(shift)));
            return y;
        }

        /// <summary>The program computing <paramref name="output"/>; <paramref name="headInput"/> as <see cref="HeadInput"/>.</summary>
        public WindowProgram Build(int output, int? headInput) => new(_steps.ToArray(), _nodes.ToArray(), output, headInput);

        private int Node(int channels, int margin)
        {
            _nodes.Add(new NodeShape(channels, margin));
            return _nodes.Count - 1;
        }

        private static float[] Floats(Tensor t)
        {
            using var cpu = t.detach().to(ScalarType.Float32).cpu().contiguous();
            return MemoryMarshal.Cast<byte, float>(cpu.bytes).ToArray();
        }
    }
}
