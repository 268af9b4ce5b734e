using OpenCvSharp;

namespace StreamAnalyzer.Pipeline.Detection;

/// <summary>Upstream <c>utils.datasets.letterbox</c> on OpenCV images: resize keeping aspect ratio, pad with gray.</summary>
public static class Letterbox
{
    /// <summary>The geometry <see cref="Apply"/> would use for a frame of the given size.</summary>
    public static LetterboxGeometry Plan(int width, int height, LetterboxOptions o)
    {
        double r = Math.Min(o.Height / (double)height, o.Width / (double)width);
        if (!o.ScaleUp) r = Math.Min(r, 1.0);
        // At least one pixel each way: a 1x5000 strip scales to 0 rows upstream (and cannot be resized).
        int newW = Math.Max(1, (int)Math.Round(width * r, MidpointRounding.ToEven));
        int newH = Math.Max(1, (int)Math.Round(height * r, MidpointRounding.ToEven));
        double dw = o.Width - newW, dh = o.Height - newH;
        if (o.Auto)
        {
            dw = PositiveMod(dw, o.Stride);
            dh = PositiveMod(dh, o.Stride);
        }
        dw /= 2;
        dh /= 2;
        int top = (int)Math.Round(dh - 0.1, MidpointRounding.ToEven), bottom = (int)Math.Round(dh + 0.1, MidpointRounding.ToEven);
        int left = (int)Math.Round(dw - 0.1, MidpointRounding.ToEven), right = (int)Math.Round(dw + 0.1, MidpointRounding.ToEven);
        return new LetterboxGeometry(width, height, newW + left + right, newH + top + bottom, r, left, top, newW, newH, o.RoundedPadding);
    }

    /// <summary>Returns a new BGR image of the planned input size (the caller owns it) and its geometry.</summary>
    public static (Mat Image, LetterboxGeometry Geometry) Apply(Mat frame, LetterboxOptions options)
    {
        if (frame.Empty()) throw new ArgumentException("empty frame", nameof(frame));
        var g = Plan(frame.Width, frame.Height, options);
        var padded = new Mat();
        if (g.ResizedWidth != frame.Width || g.ResizedHeight != frame.Height)
        {
            using var resized = new Mat();
            Cv2.Resize(frame, resized, new Size(g.ResizedWidth, g.ResizedHeight), interpolation: InterpolationFlags.Linear);
            Pad(resized, padded, g, options.PadValue);
        }
        else
        {
            Pad(frame, padded, g, options.PadValue);
        }
        return (padded, g);
    }

    private static void Pad(Mat source, Mat destination, LetterboxGeometry g, byte value) =>
        Cv2.CopyMakeBorder(source, destination, g.Top, g.InputHeight - g.ResizedHeight - g.Top, g.Left,
            g.InputWidth - g.ResizedWidth - g.Left, BorderTypes.Constant, new Scalar(value, value, value));

    private static double PositiveMod(double a, int m) => ((a % m) + m) % m;
}
