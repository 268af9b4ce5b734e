using OpenCvSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Detection;

/// <summary>Converts letterboxed BGR images to the model input: RGB, float in [0, 1], NCHW, one batch.</summary>
public static class InputTensor
{
    /// <summary>
    /// Stacks same-sized 8-bit BGR images into a (B, 3, H, W) float32 tensor on <paramref name="device"/>. The
    /// conversion is done by OpenCV into the tensor's memory (libtorch's threads stay idle between forward passes).
    /// </summary>
    public static Tensor FromImages(IReadOnlyList<Mat> images, Device device)
    {
        if (images.Count == 0) throw new ArgumentException("no images", nameof(images));
        int h = images[0].Height, w = images[0].Width;
        var input = empty([images.Count, 3, h, w], ScalarType.Float32);
        unsafe
        {
            fixed (byte* data = input.bytes)
            {
                long plane = (long)h * w * sizeof(float);
                for (int i = 0; i < images.Count; i++)
                {
                    var m = images[i];
                    if (m.Height != h || m.Width != w || m.Type() != MatType.CV_8UC3)
                        throw new ArgumentException("images of one batch must be 8-bit BGR of one size", nameof(images));
                    var channels = Cv2.Split(m);
                    try
                    {
                        for (int c = 0; c < 3; c++)
                        {
                            // BGR -> RGB: blue is the third plane; each scaled to [0, 1].
                            using var target = Mat.FromPixelData(h, w, MatType.CV_32FC1, (IntPtr)(data + (i * 3 + (2 - c)) * plane));
                            channels[c].ConvertTo(target, MatType.CV_32FC1, 1.0 / 255);
                        }
                    }
                    finally
                    {
                        foreach (var channel in channels) channel.Dispose();
                    }
                }
            }
        }
        if (device.type == TorchSharp.DeviceType.CPU) return input;
        using (input) return input.to(device);
    }
}
