using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace StreamAnalyzer.Pipeline.Model;

/// <summary>
/// The arithmetic of <see cref="WindowProgram"/>: stride-1 convolutions without padding and their input gradients, on
/// one item's (channels, side, side) planes, through im2col rows and a small register-blocked matrix product (AVX2 where the machine has it: .NET lowers
/// <c>Vector256</c> to it, and emulates it elsewhere). The loops are compiled fully optimised from their first call
/// (<see cref="MethodImplOptions.AggressiveOptimization"/>): a tiered first version ran them 4-40 times slower for the
/// first thousands of calls.
/// </summary>
internal static class WindowKernels
{
    /// <summary>
    /// <paramref name="y"/> (outChannels, t, t) = bias + conv(<paramref name="x"/> (channels, s, s), weights), t = s - k + 1.
    /// <paramref name="packed"/> holds each group's weights as a (channels / groups * k * k, outChannels / groups) matrix
    /// (<see cref="PackForward"/>); <paramref name="cols"/> and <paramref name="product"/> at least t * t *
    /// (channels / groups) * k * k and t * t * outChannels / groups floats.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Convolve(ReadOnlySpan<float> x, int channels, int s, ReadOnlySpan<float> packed, ReadOnlySpan<float> bias,
        int outChannels, int groups, int k, Span<float> y, Span<float> cols, Span<float> product)
    {
        int t = s - k + 1, cells = t * t, cg = channels / groups, og = outChannels / groups, row = cg * k * k;
        for (int g = 0; g < groups; g++)
        {
            Im2Col(x, g * cg, cg, s, k, cols);
            // (cells, row) x (row, og): output channels along the vectors.
            MatMul(cols, packed.Slice(g * row * og, row * og), product, cells, row, og);
            for (int oi = 0; oi < og; oi++)
            {
                int o = g * og + oi;
                float b = bias[o];
                for (int l = 0; l < cells; l++) y[o * cells + l] = product[l * og + oi] + b;
            }
        }
    }

    /// <summary>
    /// Adds to <paramref name="dx"/> (channels, s, s) the gradient of <see cref="Convolve"/>'s input given the gradient
    /// <paramref name="dy"/> (outChannels, t, t) of its output; <paramref name="packed"/> the weights as
    /// <see cref="PackBackward"/> lays them out. <paramref name="cols"/> and <paramref name="product"/> as for <see cref="Convolve"/>.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ConvolveBackward(ReadOnlySpan<float> dy, int channels, int s, ReadOnlySpan<float> packed,
        int outChannels, int groups, int k, Span<float> dx, Span<float> cols, Span<float> product)
    {
        int t = s - k + 1, cells = t * t, cg = channels / groups, og = outChannels / groups, row = cg * k * k;
        for (int g = 0; g < groups; g++)
        {
            for (int oi = 0; oi < og; oi++)
                for (int l = 0; l < cells; l++) product[l * og + oi] = dy[(g * og + oi) * cells + l];
            // (cells, og) x (og, row): each cell's window gradient, input positions along the vectors.
            MatMul(product, packed.Slice(g * og * row, og * row), cols, cells, og, row);
            Col2ImAdd(cols, g * cg, cg, s, k, dx);
        }
    }

    /// <summary>Each group's (og, row) block of libtorch's weight layout as a packed (row, og) matrix, for <see cref="Convolve"/>.</summary>
    public static float[] PackForward(ReadOnlySpan<float> weight, int outChannels, int groups, int row)
    {
        int og = outChannels / groups;
        var packed = new float[weight.Length];
        var transposed = new float[row * og];
        for (int g = 0; g < groups; g++)
        {
            for (int oi = 0; oi < og; oi++)
                for (int r = 0; r < row; r++) transposed[r * og + oi] = weight[(g * og + oi) * row + r];
            Pack(transposed, row, og).CopyTo(packed, g * row * og);
        }
        return packed;
    }

    /// <summary>Each group's (og, row) block of libtorch's weight layout packed as it is, for <see cref="ConvolveBackward"/>.</summary>
    public static float[] PackBackward(ReadOnlySpan<float> weight, int outChannels, int groups, int row)
    {
        int og = outChannels / groups;
        var packed = new float[weight.Length];
        for (int g = 0; g < groups; g++) Pack(weight.Slice(g * og * row, og * row), og, row).CopyTo(packed, g * og * row);
        return packed;
    }

    /// <summary>
    /// A (k, n) matrix laid out for <see cref="MatMul"/>: panels of 16 columns (k rows of 16 floats, one after the
    /// other), one of 8 if that many are left, then each remaining column on its own. Read in order, the panels stay
    /// in cache; a row-major matrix's columns, strided by n, thrash it.
    /// </summary>
    public static float[] Pack(ReadOnlySpan<float> b, int k, int n)
    {
        var packed = new float[k * n];
        int at = 0, j = 0;
        for (; j + 16 <= n; j += 16)
            for (int p = 0; p < k; p++, at += 16) b.Slice(p * n + j, 16).CopyTo(packed.AsSpan(at, 16));
        if (j + 8 <= n)
        {
            for (int p = 0; p < k; p++, at += 8) b.Slice(p * n + j, 8).CopyTo(packed.AsSpan(at, 8));
            j += 8;
        }
        for (; j < n; j++)
            for (int p = 0; p < k; p++) packed[at++] = b[p * n + j];
        return packed;
    }

    /// <summary><paramref name="c"/> (m, n) = <paramref name="a"/> (m, k, row-major) x <paramref name="b"/> (k, n, <see cref="Pack"/>ed), row-major.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void MatMul(ReadOnlySpan<float> a, ReadOnlySpan<float> b, Span<float> c, int m, int k, int n)
    {
        fixed (float* pa = a, pb = b, pc = c)
        {
            int i = 0;
            for (; i + 4 <= m; i += 4) FourRows(pa + i * k, pb, pc + i * n, k, n);
            for (; i < m; i++) OneRow(pa + i * k, pb, pc + i * n, k, n);
        }
    }

    // Four rows of the product: 16 and 8 columns at a time in vector registers (8 and 4 accumulators), the rest scalar.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void FourRows(float* a, float* b, float* c, int k, int n)
    {
        int j = 0;
        for (; j + 16 <= n; j += 16, b += 16 * k)
        {
            Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default, c30 = default, c31 = default;
            for (int p = 0; p < k; p++)
            {
                var b0 = Vector256.Load(b + p * 16);
                var b1 = Vector256.Load(b + p * 16 + 8);
                var a0 = Vector256.Create(a[p]);
                c00 = Vector256.FusedMultiplyAdd(a0, b0, c00);
                c01 = Vector256.FusedMultiplyAdd(a0, b1, c01);
                var a1 = Vector256.Create(a[k + p]);
                c10 = Vector256.FusedMultiplyAdd(a1, b0, c10);
                c11 = Vector256.FusedMultiplyAdd(a1, b1, c11);
                var a2 = Vector256.Create(a[2 * k + p]);
                c20 = Vector256.FusedMultiplyAdd(a2, b0, c20);
                c21 = Vector256.FusedMultiplyAdd(a2, b1, c21);
                var a3 = Vector256.Create(a[3 * k + p]);
                c30 = Vector256.FusedMultiplyAdd(a3, b0, c30);
                c31 = Vector256.FusedMultiplyAdd(a3, b1, c31);
            }
            c00.Store(c + j); c01.Store(c + j + 8);
            c10.Store(c + n + j); c11.Store(c + n + j + 8);
            c20.Store(c + 2 * n + j); c21.Store(c + 2 * n + j + 8);
            c30.Store(c + 3 * n + j); c31.Store(c + 3 * n + j + 8);
        }
        if (j + 8 <= n)
        {
            Vector256<float> c0 = default, c1 = default, c2 = default, c3 = default;
            for (int p = 0; p < k; p++)
            {
                var bv = Vector256.Load(b + p * 8);
                c0 = Vector256.FusedMultiplyAdd(Vector256.Create(a[p]), bv, c0);
                c1 = Vector256.FusedMultiplyAdd(Vector256.Create(a[k + p]), bv, c1);
                c2 = Vector256.FusedMultiplyAdd(Vector256.Create(a[2 * k + p]), bv, c2);
                c3 = Vector256.FusedMultiplyAdd(Vector256.Create(a[3 * k + p]), bv, c3);
            }
            c0.Store(c + j); c1.Store(c + n + j); c2.Store(c + 2 * n + j); c3.Store(c + 3 * n + j);
            j += 8;
            b += 8 * k;
        }
        for (; j < n; j++, b += k)
            for (int r = 0; r < 4; r++) c[r * n + j] = Dot(a + r * k, b, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void OneRow(float* a, float* b, float* c, int k, int n)
    {
        int j = 0;
        for (; j + 16 <= n; j += 16, b += 16 * k)
        {
            Vector256<float> c0 = default, c1 = default;
            for (int p = 0; p < k; p++)
            {
                var ap = Vector256.Create(a[p]);
                c0 = Vector256.FusedMultiplyAdd(ap, Vector256.Load(b + p * 16), c0);
                c1 = Vector256.FusedMultiplyAdd(ap, Vector256.Load(b + p * 16 + 8), c1);
            }
            c0.Store(c + j); c1.Store(c + j + 8);
        }
        if (j + 8 <= n)
        {
            Vector256<float> c0 = default;
            for (int p = 0; p < k; p++) c0 = Vector256.FusedMultiplyAdd(Vector256.Create(a[p]), Vector256.Load(b + p * 8), c0);
            c0.Store(c + j);
            j += 8;
            b += 8 * k;
        }
        for (; j < n; j++, b += k) c[j] = Dot(a, b, k);
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe float Dot(float* a, float* b, int k)
    {
        var sum = Vector256<float>.Zero;
        int p = 0;
        for (; p + 8 <= k; p += 8) sum = Vector256.FusedMultiplyAdd(Vector256.Load(a + p), Vector256.Load(b + p), sum);
        float total = Vector256.Sum(sum);
        for (; p < k; p++) total += a[p] * b[p];
        return total;
    }

    // Row l = (ty, tx) of the output holds the inputs its k x k window covers, channel-major as the weights are laid out.
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Im2Col(ReadOnlySpan<float> x, int firstChannel, int cg, int s, int k, Span<float> cols)
    {
        int t = s - k + 1, row = cg * k * k;
        fixed (float* px = x, pc = cols)
        {
            for (int ty = 0; ty < t; ty++)
                for (int tx = 0; tx < t; tx++)
                {
                    float* dst = pc + (ty * t + tx) * row;
                    for (int c = 0; c < cg; c++)
                    {
                        float* src = px + ((firstChannel + c) * s + ty) * s + tx;
                        for (int ky = 0; ky < k; ky++, src += s)
                            for (int kx = 0; kx < k; kx++) *dst++ = src[kx];
                    }
                }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static unsafe void Col2ImAdd(ReadOnlySpan<float> cols, int firstChannel, int cg, int s, int k, Span<float> dx)
    {
        int t = s - k + 1, row = cg * k * k;
        fixed (float* pc = cols, pd = dx)
        {
            for (int ty = 0; ty < t; ty++)
                for (int tx = 0; tx < t; tx++)
                {
                    float* src = pc + (ty * t + tx) * row;
                    for (int c = 0; c < cg; c++)
                    {
                        float* dst = pd + ((firstChannel + c) * s + ty) * s + tx;
                        for (int ky = 0; ky < k; ky++, dst += s)
                            for (int kx = 0; kx < k; kx++) dst[kx] += *src++;
                    }
                }
        }
    }

    /// <summary><paramref name="y"/> = activation(<paramref name="pre"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Activate(WindowActivation activation, float slope, ReadOnlySpan<float> pre, Span<float> y)
    {
        switch (activation)
        {
            case WindowActivation.SiLU:
                for (int i = 0; i < pre.Length; i++) y[i] = pre[i] * Sigmoid(pre[i]);
                break;
            case WindowActivation.LeakyReLU:
                for (int i = 0; i < pre.Length; i++) y[i] = pre[i] > 0 ? pre[i] : pre[i] * slope;
                break;
            case WindowActivation.ReLU:
                for (int i = 0; i < pre.Length; i++) y[i] = pre[i] > 0 ? pre[i] : 0;
                break;
            default:
                pre.CopyTo(y);
                break;
        }
    }

    /// <summary>Turns <paramref name="grad"/>, the gradient of the activation's output, into that of its input <paramref name="pre"/>, in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void ActivateBackward(WindowActivation activation, float slope, ReadOnlySpan<float> pre, Span<float> grad)
    {
        switch (activation)
        {
            case WindowActivation.SiLU:
                // d/dx x sigmoid(x) = sigmoid(x) (1 + x (1 - sigmoid(x))).
                for (int i = 0; i < pre.Length; i++)
                {
                    float sig = Sigmoid(pre[i]);
                    grad[i] *= sig * (1 + pre[i] * (1 - sig));
                }
                break;
            case WindowActivation.LeakyReLU:
                // As libtorch: the slope where the input is not above zero.
                for (int i = 0; i < pre.Length; i++) if (!(pre[i] > 0)) grad[i] *= slope;
                break;
            case WindowActivation.ReLU:
                for (int i = 0; i < pre.Length; i++) if (!(pre[i] > 0)) grad[i] = 0;
                break;
        }
    }

    // Scalar on purpose: TensorPrimitives' vectorised sigmoid is a generic instantiation that the tiered JIT left
    // unoptimised for seconds in a busy pipeline (profiled), where it was the slowest part of the window program.
    private static float Sigmoid(float x) => 1f / (1f + MathF.Exp(-x));

    /// <summary><paramref name="target"/> += <paramref name="source"/> * <paramref name="scale"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe void AddScaled(Span<float> target, ReadOnlySpan<float> source, float scale)
    {
        if (source.Length != target.Length) throw new ArgumentException("spans of different lengths", nameof(source));
        fixed (float* t = target, s = source)
        {
            int n = target.Length, i = 0;
            var v = Vector256.Create(scale);
            for (; i + 8 <= n; i += 8) Vector256.FusedMultiplyAdd(Vector256.Load(s + i), v, Vector256.Load(t + i)).Store(t + i);
            for (; i < n; i++) t[i] += s[i] * scale;
        }
    }

    /// <summary><paramref name="target"/> = <paramref name="source"/> * <paramref name="scale"/> + <paramref name="shift"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static void Affine(ReadOnlySpan<float> source, float scale, float shift, Span<float> target)
    {
        for (int i = 0; i < source.Length; i++) target[i] = source[i] * scale + shift;
    }
}
