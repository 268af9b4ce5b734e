using OpenCvSharp;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Tests.Support;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Tests.Model;

/// <summary>
/// The head's prediction layout against what each family's decode implies: a row's level and cell must be where
/// its box came from (YOLOv5/v7: the box centre lies within [cell - 0.5, cell + 1.5) strides; Ultralytics: the cell
/// centre lies inside the box, as the predicted side distances are never negative).
/// </summary>
public class PredictionLayoutTests
{
    public static TheoryData<string, string> Models() => new()
    {
        { "shapes", "yolov7-tiny-shapes.pt" },
        { "ultralytics", "yolov8n-shapes.pt" },
    };

    [SkippableTheory]
    [MemberData(nameof(Models))]
    public void EachDetectionsRowIsLocatedAtTheCellItsBoxWasDecodedFrom(string folder, string checkpoint)
    {
        using var detector = Detector.Load(Fixtures.Require(folder, checkpoint), new DetectorOptions(320));
        var layout = detector.Model.Layout;
        int located = 0;
        var levels = new HashSet<int>();
        foreach (var path in Directory.GetFiles(Fixtures.Require("shapes", "images"), "*.jpg"))
        {
            using var frame = Cv2.ImRead(path);
            var result = detector.Detect(frame);
            foreach (var d in result.Detections)
            {
                var at = layout.Locate(d.Row, result.Geometry.InputHeight, result.Geometry.InputWidth);
                float s = layout.Strides[at.Level];
                float cx = (d.InputBox.X1 + d.InputBox.X2) / 2, cy = (d.InputBox.Y1 + d.InputBox.Y2) / 2;
                if (layout.Encoding == BoxEncoding.AnchorOffsets)
                {
                    Assert.InRange(cx, (at.GridX - 0.5f) * s, (at.GridX + 1.5f) * s);
                    Assert.InRange(cy, (at.GridY - 0.5f) * s, (at.GridY + 1.5f) * s);
                }
                else
                {
                    Assert.InRange((at.GridX + 0.5f) * s, d.InputBox.X1 - 1e-3f, d.InputBox.X2 + 1e-3f);
                    Assert.InRange((at.GridY + 0.5f) * s, d.InputBox.Y1 - 1e-3f, d.InputBox.Y2 + 1e-3f);
                }
                Assert.Equal(at.Level, detector.Model.LevelOfRow(d.Row, result.Geometry.InputHeight, result.Geometry.InputWidth));
                levels.Add(at.Level);
                located++;
            }
        }
        Assert.True(located >= 10, $"only {located} detections");
        // yolov7-tiny detects these shapes at P3 and P4; the YOLOv8n model detects all of them at P3 (at 320 and 640 px),
        // so its later levels are covered by the row arithmetic below only.
        if (layout.Encoding == BoxEncoding.AnchorOffsets) Assert.True(levels.Count >= 2, "the shapes images have objects at more than one level");
    }

    [SkippableTheory]
    [InlineData("yolov7", "yolov7-w25-deploy-random.pt", 3, 3)]
    [InlineData("yolov5", "yolov5n6-random.pt", 4, 3)]
    [InlineData("ultralytics", "yolo11n-random.pt", 3, 1)]
    public void TheLayoutCountsTheRowsTheHeadProduces(string folder, string checkpoint, int levels, int anchors)
    {
        using var model = YoloModel.Load(Fixtures.Require(folder, checkpoint));
        var layout = model.Layout;
        Assert.Equal(levels, layout.NumLevels);
        Assert.Equal(anchors, layout.AnchorsPerCell);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        int h = model.MaxStride * 4, w = model.MaxStride * 6;
        var pred = model.forward(zeros(1, 3, h, w));
        Assert.Equal(layout.RowCount(h, w), pred.shape[1]);
        Assert.Equal(layout.Columns, pred.shape[2]);
        int last = (int)pred.shape[1] - 1;
        float s = layout.Strides[^1];
        Assert.Equal(new RowLocation(levels - 1, anchors - 1, (int)(h / s) - 1, (int)(w / s) - 1), layout.Locate(last, h, w));
        Assert.Equal(new RowLocation(0, 0, 0, 1), layout.Locate(1, h, w));
        Assert.Throws<ArgumentOutOfRangeException>(() => layout.Locate(last + 1, h, w));
    }
}
