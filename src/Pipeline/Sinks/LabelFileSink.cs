using System.Globalization;
using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary>
/// <c>--save-txt</c>: yolov7 detect.py label files, one per frame with detections: <c>&lt;stem&gt;.txt</c> for an image,
/// <c>&lt;stem&gt;_&lt;frame&gt;.txt</c> for a video (frame counted from 1, as upstream), one line
/// <c>class x_center y_center width height [confidence]</c> per detection, normalised to the frame size. The stem is
/// the source's own (or its <c>name=</c>), made unique across the run's sources as the other outputs' names are
/// (<c>clip</c>, <c>clip_2</c>): two sources never write to the same label file.
/// </summary>
/// <param name="folder">Where the label files go.</param>
/// <param name="stem">Each source's unique file stem (<see cref="Sources.SourceCatalog.ShortNames"/>, as spelt).</param>
/// <param name="isImage">Whether source i is a still image (one file, no frame number).</param>
/// <param name="withConfidence">Whether each line ends with the detection's confidence (<c>--save-conf</c>).</param>
public sealed class LabelFileSink(string folder, Func<int, string> stem, Func<int, bool> isImage, bool withConfidence) : IFrameSink
{
    /// <inheritdoc/>
    public void Write(AnalyzedFrame frame)
    {
        var r = frame.Result;
        if (r.Detections.Count == 0) return;
        Directory.CreateDirectory(folder);
        int source = frame.Frame.SourceIndex;
        string name = stem(source);
        string file = Path.Combine(folder, isImage(source) ? $"{name}.txt" : $"{name}_{frame.Frame.Index + 1}.txt");
        double w = r.Geometry.SourceWidth, h = r.Geometry.SourceHeight;
        var lines = r.Detections.Select(d =>
        {
            var values = new List<double> { (d.Box.X1 + d.Box.X2) / 2 / w, (d.Box.Y1 + d.Box.Y2) / 2 / h, d.Box.Width / w, d.Box.Height / h };
            if (withConfidence) values.Add(d.Confidence);
            return d.ClassId.ToString(CultureInfo.InvariantCulture) + " " + string.Join(" ", values.Select(v => v.ToString("G6", CultureInfo.InvariantCulture)));
        });
        File.AppendAllLines(file, lines);
    }

    /// <inheritdoc/>
    public void CompleteSource(int source) { }

    /// <inheritdoc/>
    public void Dispose() { }
}
