using StreamAnalyzer.Pipeline.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>Folds an inference-mode BatchNorm into the convolution in front of it (upstream <c>fuse_conv_and_bn</c>).</summary>
internal static class BatchNormFolding
{
    /// <summary>Returns (weight, bias) of the convolution equivalent to <c>bn(conv(x))</c>; both tensors are new.</summary>
    public static (Tensor Weight, Tensor Bias) Fold(Tensor weight, Tensor? bias, BatchNorm2d bn)
    {
        using var noGrad = no_grad();
        using var scope = NewDisposeScope();
        var std = bn.running_var!.add(TorchScalars.Of(bn.eps), TorchScalars.One).sqrt();
        var scale = bn.weight / std;
        var w = weight * scale.reshape(-1, 1, 1, 1);
        var b = bn.bias! - bn.running_mean! * scale;
        if (bias is not null) b = b.Plus(bias * scale);
        return (w.MoveToOuterDisposeScope(), b.MoveToOuterDisposeScope());
    }

    /// <summary>Replaces the parameters of <paramref name="conv"/> (adding a bias) by the given tensors.</summary>
    public static void Assign(Conv2d conv, Tensor weight, Tensor bias)
    {
        conv.weight = new Parameter(weight, requires_grad: false);
        conv.bias = new Parameter(bias, requires_grad: false);
    }
}
