using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using OpenCvSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>
/// The steps every map goes through on its way to the input's size. Done on the CPU copy the map needs anyway (OpenCV's
/// resize, vectorised passes for the range): a handful of tensor operations per map would cost more than the map itself.
/// </summary>
public static class MapSteps
{
    /// <summary>
    /// Upsamples a (h, w) map to <paramref name="height"/> x <paramref name="width"/> (bilinear, pixel centres
    /// aligned) and min-max normalises it to [0, 1]; null for a constant map.
    /// </summary>
    public static float[]? Normalise(Tensor raw, int height, int width)
    {
        using var cpu = raw.to(ScalarType.Float32).cpu().contiguous();
        int h = (int)raw.shape[0], w = (int)raw.shape[1];
        var small = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(cpu.bytes).ToArray();
        float[] values;
        if (h == height && w == width)
        {
            values = small;
        }
        else
        {
            values = GC.AllocateUninitializedArray<float>(height * width); // every element is written by the resize
            unsafe
            {
                fixed (float* source = small, target = values)
                {
                    using var from = Mat.FromPixelData(h, w, MatType.CV_32FC1, (IntPtr)source);
                    using var to = Mat.FromPixelData(height, width, MatType.CV_32FC1, (IntPtr)target);
                    Cv2.Resize(from, to, new OpenCvSharp.Size(width, height), interpolation: InterpolationFlags.Linear);
                }
            }
        }
        return Renormalise(values) ? values : null;
    }

    /// <summary>Min-max normalises <paramref name="map"/> in place; false (map unchanged) when it is constant or not finite.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static unsafe bool Renormalise(float[] map)
    {
        int n = map.Length;
        if (n == 0) return false;
        fixed (float* p = map)
        {
            // One pass for the range and finiteness (x - x is 0 exactly for finite x, NaN otherwise), one for the affine
            // map clamped to [0, 1]: five OpenCV passes (min-max, sum, scale, two thresholds) took 3-4 times as long.
            var lowest = Vector256.Create(float.PositiveInfinity);
            var highest = Vector256.Create(float.NegativeInfinity);
            var finite = Vector256<float>.AllBitsSet;
            int i = 0;
            for (; i + 8 <= n; i += 8)
            {
                var v = Vector256.Load(p + i);
                lowest = Vector256.Min(lowest, v);
                highest = Vector256.Max(highest, v);
                finite &= Vector256.Equals(v - v, Vector256<float>.Zero);
            }
            if (!Vector256.EqualsAll(finite.AsInt32(), Vector256<int>.AllBitsSet)) return false;
            float min = float.PositiveInfinity, max = float.NegativeInfinity;
            for (int lane = 0; lane < 8; lane++)
            {
                min = Math.Min(min, lowest.GetElement(lane));
                max = Math.Max(max, highest.GetElement(lane));
            }
            for (; i < n; i++)
            {
                if (!float.IsFinite(p[i])) return false;
                min = Math.Min(min, p[i]);
                max = Math.Max(max, p[i]);
            }
            // Constant up to float rounding, relative to the map's own scale (gradients through deep random nets are tiny).
            if (!(max - min > 1e-6f * Math.Max(Math.Abs(max), Math.Abs(min)))) return false;
            // (x - min) * (1 / (max - min)), clamped: the rounding can put the ends within 1e-7 outside [0, 1]. A range so
            // small that its inverse overflows counts as constant.
            float scale = (float)(1 / ((double)max - min));
            if (!float.IsFinite(scale)) return false;
            var vMin = Vector256.Create(min);
            var vScale = Vector256.Create(scale);
            var one = Vector256.Create(1f);
            i = 0;
            for (; i + 8 <= n; i += 8)
                Vector256.Min(Vector256.Max((Vector256.Load(p + i) - vMin) * vScale, Vector256<float>.Zero), one).Store(p + i);
            for (; i < n; i++) p[i] = Math.Clamp((p[i] - min) * scale, 0f, 1f);
        }
        return true;
    }

    // The map passes below are this project's own rather than TensorPrimitives': those are generic instantiations the
    // tiered JIT leaves unoptimised for seconds in a busy pipeline (profiled: [QuickJitted] frames of TensorPrimitives'
    // operators in a 7-second run), while these are compiled optimised at their first call.

    /// <summary><paramref name="target"/> += <paramref name="source"/>, element by element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Add(Span<float> target, ReadOnlySpan<float> source)
    {
        if (source.Length != target.Length) throw new ArgumentException("maps of different sizes", nameof(source));
        fixed (float* t = target, s = source)
        {
            int n = target.Length, i = 0;
            for (; i + 8 <= n; i += 8) (Vector256.Load(t + i) + Vector256.Load(s + i)).Store(t + i);
            for (; i < n; i++) t[i] += s[i];
        }
    }

    /// <summary><paramref name="target"/> = max(<paramref name="target"/>, <paramref name="source"/>), element by element.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe void Max(Span<float> target, ReadOnlySpan<float> source)
    {
        if (source.Length != target.Length) throw new ArgumentException("maps of different sizes", nameof(source));
        fixed (float* t = target, s = source)
        {
            int n = target.Length, i = 0;
            for (; i + 8 <= n; i += 8) Vector256.Max(Vector256.Load(t + i), Vector256.Load(s + i)).Store(t + i);
            for (; i < n; i++) t[i] = Math.Max(t[i], s[i]);
        }
    }

    /// <summary>The sum, accumulated in float32 lanes and added up in double.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static unsafe double Sum(ReadOnlySpan<float> values)
    {
        fixed (float* p = values)
        {
            int n = values.Length, i = 0;
            var lanes = Vector256<float>.Zero;
            for (; i + 8 <= n; i += 8) lanes += Vector256.Load(p + i);
            double total = 0;
            for (int lane = 0; lane < 8; lane++) total += lanes.GetElement(lane);
            for (; i < n; i++) total += p[i];
            return total;
        }
    }

    /// <summary>Index of the first largest value (-1 for an empty span; NaNs are skipped).</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal static int IndexOfMax(ReadOnlySpan<float> values)
    {
        int best = -1;
        float highest = float.NegativeInfinity;
        for (int i = 0; i < values.Length; i++)
            if (values[i] > highest || (best < 0 && !float.IsNaN(values[i])))
            {
                highest = values[i];
                best = i;
            }
        return best;
    }
}
