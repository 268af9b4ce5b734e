using OpenCvSharp;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Sinks;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Pipeline.Tests.Sinks;

public class FfmpegVideoWriterTests
{
    private static readonly Scalar[] Colours = [new(40, 90, 200), new(200, 40, 90), new(90, 200, 40), new(128, 128, 128)];

    /// <summary>
    /// Frames of even size go to ffmpeg converted to 4:2:0 by OpenCV, odd ones as BGR padded by ffmpeg: either way the
    /// file has every frame, and each quadrant's colour comes back (a swapped channel order, swapped chroma planes or a
    /// different range would move some channel by tens of levels).
    /// </summary>
    [SkippableTheory]
    [InlineData(96, 64)]
    [InlineData(97, 65)]
    public void EveryFrameIsWrittenAndItsColoursComeBack(int width, int height)
    {
        Fixtures.NeedFfmpeg();
        using var folder = new TempDirectory();
        string path = Path.Combine(folder.Path, "colours.mp4");
        using (var writer = new FfmpegVideoWriter(path, width, height, 25))
        {
            using var frame = Quadrants(width, height);
            for (int i = 0; i < 10; i++) writer.Write(frame, i * 40.0);
            Assert.Equal(10, writer.FramesWritten);
        }

        using var capture = new VideoCapture(path, VideoCaptureAPIs.FFMPEG);
        Assert.True(capture.IsOpened(), $"{path} does not open");
        using var read = new Mat();
        int frames = 0;
        while (capture.Read(read) && !read.Empty())
        {
            frames++;
            Assert.True(read.Width >= width && read.Width <= width + 1 && read.Height >= height && read.Height <= height + 1, $"{read.Width}x{read.Height}");
            for (int q = 0; q < 4; q++)
            {
                // The middle of each quadrant: its edges blur into the neighbours through 4:2:0 and compression.
                var (x, y) = (q % 2 * (width / 2), q / 2 * (height / 2));
                using var inner = new Mat(read, new Rect(x + width / 8, y + height / 8, width / 4, height / 4));
                var mean = Cv2.Mean(inner);
                for (int c = 0; c < 3; c++)
                    Assert.True(Math.Abs(mean[c] - Colours[q][c]) <= 6, $"frame {frames}, quadrant {q}, channel {c}: {mean[c]:0.0} against {Colours[q][c]}");
            }
        }
        Assert.Equal(10, frames);
    }

    /// <summary>The container is the one the extension names (a <c>.mkv</c> used to hold MP4 bytes).</summary>
    [SkippableTheory]
    [InlineData("clip.mp4", "mov,mp4,m4a,3gp,3g2,mj2")]
    [InlineData("clip.mkv", "matroska,webm")]
    [InlineData("clip.mov", "mov,mp4,m4a,3gp,3g2,mj2")]
    [InlineData("clip.avi", "avi")]
    public void TheContainerFollowsTheExtension(string name, string format)
    {
        Fixtures.NeedFfmpeg(ffprobe: true);
        using var folder = new TempDirectory();
        string path = Path.Combine(folder.Path, name);
        using (var writer = new FfmpegVideoWriter(path, 64, 48, 25))
        {
            using var frame = Quadrants(64, 48);
            for (int i = 0; i < 5; i++) writer.Write(frame, i * 40.0);
        }
        var probe = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(Ffmpeg.FfprobePath!,
            ["-v", "error", "-count_frames", "-show_entries", "format=format_name:stream=codec_name,nb_read_frames", "-of", "default=nw=1", path])
        { RedirectStandardOutput = true })!;
        string output = probe.StandardOutput.ReadToEnd();
        probe.WaitForExit();
        Assert.Contains($"format_name={format}", output);
        Assert.Contains("codec_name=h264", output);
        Assert.Contains("nb_read_frames=5", output);
    }

    /// <summary>
    /// The preset asked for is the one x264 used: x264 writes its settings into the stream, and <c>ultrafast</c> is the
    /// only preset without CABAC, <c>veryslow</c> the only one with 16 reference frames.
    /// </summary>
    [SkippableTheory]
    [InlineData("ultrafast", "cabac=0", "ref=1 ")]
    [InlineData("superfast", "cabac=1", "ref=1 ")]
    [InlineData("veryslow", "cabac=1", "ref=16 ")]
    public void TheFileIsEncodedWithThePresetAskedFor(string preset, string entropy, string references)
    {
        Fixtures.NeedFfmpeg();
        using var folder = new TempDirectory();
        string path = Path.Combine(folder.Path, "preset.mp4");
        using (var writer = new FfmpegVideoWriter(path, 64, 48, 25, preset))
        {
            using var frame = Quadrants(64, 48);
            for (int i = 0; i < 5; i++) writer.Write(frame, i * 40.0);
        }
        string settings = X264Settings.Of(path);
        Assert.Contains(entropy, settings);
        Assert.Contains(references, settings);
    }

    /// <summary>
    /// A relative name that starts with '-' or holds a ':' is a file like any other (ffmpeg took the first for an
    /// option and the second for a protocol).
    /// </summary>
    [SkippableFact]
    public void ARelativeNameWithADashOrAColonIsWritten()
    {
        Fixtures.NeedFfmpeg();
        string name = $"-a:b-{Guid.NewGuid():N}.mp4"; // relative to the current folder
        try
        {
            using (var writer = new FfmpegVideoWriter(name, 64, 48, 25))
            {
                using var frame = Quadrants(64, 48);
                for (int i = 0; i < 5; i++) writer.Write(frame, i * 40.0);
            }
            Assert.True(new FileInfo(name).Length > 0, $"{name} was not written");
        }
        finally
        {
            File.Delete(name);
        }
    }

    private static Mat Quadrants(int width, int height)
    {
        var frame = new Mat(height, width, MatType.CV_8UC3, Colours[3]);
        for (int q = 0; q < 3; q++)
        {
            var (x, y) = (q % 2 * (width / 2), q / 2 * (height / 2));
            frame.Rectangle(new Rect(x, y, q % 2 == 0 ? width / 2 : width - width / 2, height / 2), Colours[q], -1);
        }
        return frame;
    }
}
