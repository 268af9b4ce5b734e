using OpenCvSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>
/// The steps every map goes through on its way to the input's size. Done by OpenCV on the CPU copy the map needs
/// anyway: a handful of tensor operations per map would cost more than the map itself.
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
    public static bool Renormalise(float[] map)
    {
        unsafe
        {
            fixed (float* values = map)
            {
                using var mat = Mat.FromPixelData(1, map.Length, MatType.CV_32FC1, (IntPtr)values);
                // OpenCV's passes: several times faster than TensorPrimitives' NaN-aware Min and Max on these sizes. The
                // (double) sum is NaN or infinite exactly when a value is.
                Cv2.MinMaxLoc(mat, out double lowest, out double highest);
                if (!double.IsFinite(Cv2.Sum(mat).Val0)) return false;
                float min = (float)lowest, max = (float)highest;
                // Constant up to float rounding, relative to the map's own scale (gradients through deep random nets are tiny).
                if (!(max - min > 1e-6f * Math.Max(Math.Abs(max), Math.Abs(min)))) return false;
                // (x - min) / (max - min) as one affine pass.
                mat.ConvertTo(mat, MatType.CV_32FC1, 1.0 / (max - min), -min / (double)(max - min));
                // The affine form rounds the ends to within 1e-9 of 0 and 1, on either side: clamp to [0, 1]. (Thresholds,
                // not Cv2.Max/Min with a scalar, which take 60 times as long.)
                Cv2.Threshold(mat, mat, 0, 0, ThresholdTypes.Tozero);
                Cv2.Threshold(mat, mat, 1, 1, ThresholdTypes.Trunc);
            }
        }
        return true;
    }
}
