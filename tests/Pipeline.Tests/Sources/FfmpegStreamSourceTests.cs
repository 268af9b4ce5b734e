using OpenCvSharp;
using StreamAnalyzer.Pipeline.Sources;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Pipeline.Tests.Sources;

/// <summary>
/// Streams read through ffmpeg give the frames OpenCV decodes from the same video: in 4:2:0 on the pipe where the size
/// is even, in BGR where it is odd. A <c>file:</c> URL stands in for a camera here (the RTSP tests check the live
/// behaviour: reconnection, timeline).
/// </summary>
public class FfmpegStreamSourceTests
{
    [SkippableTheory]
    [InlineData("even.mp4", "scale=320:180", "libx264", 320, 180)]
    [InlineData("odd.mp4", "scale=321:181", "mpeg4", 321, 181)] // x264 takes no odd size
    [InlineData("full-range.mp4", "scale=320:180:out_range=pc,format=yuvj420p", "libx264", 320, 180)]
    public void FramesAreOpenCvsDecodingOfTheSameVideo(string name, string filter, string codec, int width, int height)
    {
        Fixtures.NeedFfmpeg(ffprobe: true);
        using var folder = new TempDirectory();
        string clip = folder.File(name);
        Fixtures.RunFfmpeg("-i", Fixtures.DemoClip, "-frames:v", "15", "-vf", filter, "-c:v", codec, clip);

        using var stream = new FfmpegStreamSource("file:" + clip, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10));
        using var opencv = new VideoFileSource(clip);
        Assert.Equal((width, height), stream.Size);
        int frames = 0;
        while (stream.TryRead(out var frame, out _))
        {
            Assert.True(opencv.TryRead(out var expected, out _), $"frame {frames}: OpenCV has no more frames");
            using (frame)
            using (expected)
            {
                Assert.Equal(expected.Size(), frame.Size());
                Assert.Equal(MatType.CV_8UC3, frame.Type());
                double difference = FfmpegFileSourceTests.MeanAbsoluteDifference(frame, expected);
                Assert.True(difference < 2.5, $"frame {frames}: pixels differ by {difference:0.00} levels on average");
            }
            frames++;
        }
        Assert.Equal(15, frames);
    }
}
