using System.Globalization;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Detection;

namespace StreamAnalyzer.Pipeline.Rendering;

/// <summary>Draws boxes and "class confidence" labels onto a BGR frame, in place.</summary>
public static class DetectionRenderer
{
    /// <summary>Draws every detection; line width and font scale follow the frame size.</summary>
    public static void Draw(Mat frame, IEnumerable<Pipeline.Detection.Detection> detections)
    {
        int thickness = Math.Max(1, (int)Math.Round(0.002 * (frame.Width + frame.Height) / 2) + 1);
        double fontScale = Math.Max(0.35, thickness / 3.0);
        foreach (var d in detections)
        {
            var color = ClassPalette.For(d.ClassId);
            var p1 = new Point((int)Math.Round(d.Box.X1), (int)Math.Round(d.Box.Y1));
            var p2 = new Point((int)Math.Round(d.Box.X2), (int)Math.Round(d.Box.Y2));
            Cv2.Rectangle(frame, p1, p2, color, thickness, LineTypes.AntiAlias);

            string label = $"{d.ClassName} {d.Confidence.ToString("0.00", CultureInfo.InvariantCulture)}";
            int fontThickness = Math.Max(thickness - 1, 1);
            var size = Cv2.GetTextSize(label, HersheyFonts.HersheySimplex, fontScale, fontThickness, out int baseline);
            // Label above the box, or inside it when the box touches the top edge.
            int top = p1.Y - size.Height - baseline - 2 >= 0 ? p1.Y - size.Height - baseline - 2 : p1.Y;
            Cv2.Rectangle(frame, new Rect(p1.X, top, size.Width + 2, size.Height + baseline + 2), color, -1, LineTypes.AntiAlias);
            Cv2.PutText(frame, label, new Point(p1.X + 1, top + size.Height + 1), HersheyFonts.HersheySimplex, fontScale,
                new Scalar(255, 255, 255), fontThickness, LineTypes.AntiAlias);
        }
    }
}
