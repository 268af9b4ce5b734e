using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>
/// Runs a chain of stride-1 convolutions - or blocks made of them (Bottleneck, C2f/C3k2, C3/C3k, a fused RepConv) - on a
/// window cut from inside a feature map without their zero padding: each output cell is then one the whole map's pass has too, and the
/// window shrinks by each kernel's reach. An explanation's window needs only its centre cell, so this computes a
/// fraction of what the padded convolutions would (a 5x5 window through two 3x3 convolutions: 9 + 1 cells instead of
/// 25 + 25).
/// </summary>
internal static class UnpaddedWindow
{
    /// <summary>The module's output on <paramref name="x"/> without padding; null where the module is not such a chain.</summary>
    public static Tensor? Forward(nn.Module<Tensor, Tensor> module, Tensor x) => module switch
    {
        Conv conv => conv.ForwardUnpadded(x),
        RepConv conv => conv.ForwardUnpadded(x),
        Conv2d conv => Convolve(conv, x),
        Bottleneck block => block.ForwardUnpadded(x),
        C2f block => block.ForwardUnpadded(x),
        C3 block => block.ForwardUnpadded(x),
        Sequential sequence => sequence.children().Aggregate<nn.Module, Tensor?>(x,
            (y, m) => y is null || m is not nn.Module<Tensor, Tensor> step ? null : Forward(step, y)),
        _ => null,
    };

    /// <summary>
    /// Writes the module into <paramref name="program"/> after node <paramref name="x"/>, as <see cref="Forward"/> computes
    /// it; null where the module (or a part of it) is not such a chain or not one the program can run.
    /// </summary>
    public static int? Lower(WindowProgram.Builder program, nn.Module<Tensor, Tensor> module, int x) => module switch
    {
        Conv conv => conv.Lower(program, x),
        RepConv conv => conv.Lower(program, x),
        Conv2d conv => program.Conv(conv, null, x),
        Bottleneck block => block.Lower(program, x),
        C2f block => block.Lower(program, x),
        C3 block => block.Lower(program, x),
        Sequential sequence => sequence.children().Aggregate<nn.Module, int?>(x,
            (y, m) => y is not { } node || m is not nn.Module<Tensor, Tensor> step ? null : Lower(program, step, node)),
        _ => null,
    };

    /// <summary>
    /// The centre of <paramref name="x"/> with the size of <paramref name="like"/>'s last two dimensions: where a
    /// block's branches shrink by different amounts, the cells the smaller one kept (every kernel is odd and centred,
    /// so the margin is the same on each side).
    /// </summary>
    public static Tensor Centre(Tensor x, Tensor like)
    {
        long h = like.shape[^2], w = like.shape[^1];
        long top = (x.shape[^2] - h) / 2, left = (x.shape[^1] - w) / 2;
        return top == 0 && left == 0 ? x : x.narrow(-2, top, h).narrow(-1, left, w);
    }

    /// <summary>A stride-1 convolution without its padding; null for any other stride.</summary>
    public static Tensor? Convolve(Conv2d conv, Tensor x)
    {
        if (conv.stride.Any(s => s != 1)) return null;
        long reachY = conv.dilation[0] * (conv.kernel_size[0] - 1), reachX = conv.dilation[1] * (conv.kernel_size[1] - 1);
        if (x.shape[2] <= reachY || x.shape[3] <= reachX) return null;
        return nn.functional.conv2d(x, conv.weight!, conv.bias, strides: [1, 1], padding: [0, 0], dilation: conv.dilation, groups: conv.groups);
    }
}
