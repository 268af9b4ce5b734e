using System.Runtime.InteropServices;
using OpenCvSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Detection;

/// <summary>Converts letterboxed BGR images to the model input: RGB, float in [0, 1], NCHW, one batch.</summary>
public static class InputTensor
{
    /// <summary>Stacks same-sized 8-bit BGR images into a (B, 3, H, W) float32 tensor on <paramref name="device"/>.</summary>
    public static Tensor FromImages(IReadOnlyList<Mat> images, Device device)
    {
        if (images.Count == 0) throw new ArgumentException("no images", nameof(images));
        int h = images[0].Height, w = images[0].Width;
        var bytes = new byte[images.Count * h * w * 3];
        for (int i = 0; i < images.Count; i++)
        {
            var m = images[i];
            if (m.Height != h || m.Width != w || m.Type() != MatType.CV_8UC3)
                throw new ArgumentException("images of one batch must be 8-bit BGR of one size", nameof(images));
            int rowBytes = w * 3;
            for (int y = 0; y < h; y++)
                Marshal.Copy(m.Ptr(y), bytes, (i * h + y) * rowBytes, rowBytes);
        }
        using var scope = NewDisposeScope();
        var hwc = tensor(bytes, [images.Count, h, w, 3]).to(device);
        // BGR -> RGB by reversing the channel axis, then NHWC -> NCHW.
        var rgb = hwc.flip(3).permute(0, 3, 1, 2).to(ScalarType.Float32).div_(255f).contiguous();
        return rgb.MoveToOuterDisposeScope();
    }
}
