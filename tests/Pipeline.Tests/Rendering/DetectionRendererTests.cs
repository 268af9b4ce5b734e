using OpenCvSharp;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Rendering;

namespace StreamAnalyzer.Pipeline.Tests.Rendering;

/// <summary>Labels stay inside the frame and the most confident label is never covered.</summary>
public class DetectionRendererTests
{
    private static Pipeline.Detection.Detection Det(float x1, float y1, float x2, float y2, int classId, float confidence) =>
        new(new BoxF(x1, y1, x2, y2), new BoxF(x1, y1, x2, y2), classId, $"class-{classId}-long-name", confidence, 0);

    private static int Count(Mat image, Rect area, Scalar color)
    {
        using var roi = new Mat(image, area);
        using var mask = new Mat();
        Cv2.InRange(roi, color, color, mask);
        return Cv2.CountNonZero(mask);
    }

    [Fact]
    public void ALabelAtTheRightEdgeIsMovedInsideTheFrame()
    {
        using var frame = new Mat(200, 300, MatType.CV_8UC3, Scalar.All(0));
        DetectionRenderer.Draw(frame, [Det(285, 100, 299, 140, 0, 0.9f)]);
        var color = ClassPalette.For(0);
        // The label (wider than the 15 px left of the box's edge) is filled in the label colour to its left, above the box.
        Assert.True(Count(frame, new Rect(150, 70, 130, 30), color) > 500, "the label should start well left of the box");
        Assert.True(Count(frame, new Rect(290, 70, 10, 30), color) > 0, "and reach the frame's edge");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheMostConfidentLabelKeepsItsPlaceAboveTheBoxAndTheOtherMovesRatherThanCoverIt(bool weakerListedFirst)
    {
        using var frame = new Mat(240, 320, MatType.CV_8UC3, Scalar.All(0));
        var confident = Det(60, 100, 200, 180, 0, 0.95f);
        var weaker = Det(62, 102, 198, 178, 1, 0.40f);
        // The order detections are listed in must not decide who is readable.
        DetectionRenderer.Draw(frame, weakerListedFirst ? [weaker, confident] : [confident, weaker]);
        var above = new Rect(60, 80, 100, 18);
        Assert.True(Count(frame, above, ClassPalette.For(0)) > 400, "the confident label is above its box");
        Assert.Equal(0, Count(frame, above, ClassPalette.For(1)));
        // Inside the weaker box's top, clear of both boxes' lines: its label moved there.
        Assert.True(Count(frame, new Rect(68, 108, 90, 6), ClassPalette.For(1)) > 200, "the weaker label is still shown, inside its box");
    }
}
