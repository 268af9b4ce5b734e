using System.Diagnostics;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Sources;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Pipeline.Tests.Sources;

/// <summary>
/// Files decoded by the system ffmpeg must give what OpenCV's decoding of the same file gives: the same frames in the
/// same order and orientation, the same presentation times and frame count.
/// </summary>
public class FfmpegFileSourceTests
{
    /// <summary>
    /// A variable-rate file (1.3 s of frames cut out of the middle): same frame count, each frame's time within a
    /// millisecond, pixels within rounding of a different 4:2:0 to BGR conversion (a frame off by one, swapped
    /// planes or another range would differ by tens of levels).
    /// </summary>
    [SkippableTheory]
    [InlineData("vfr.mp4")]
    [InlineData("vfr.mkv")]
    public void FramesTimesAndCountAreOpenCvsOnAVariableRateFile(string name)
    {
        Fixtures.NeedFfmpeg(ffprobe: true);
        using var folder = new TempDirectory();
        string clip = folder.File(name);
        Fixtures.RunFfmpeg("-i", Fixtures.DemoClip, "-t", "8", "-vf", "select='not(between(t,3,4.3))'", "-fps_mode", "vfr", "-c:v", "libx264", "-preset", "ultrafast", clip);

        using var ours = SourceCatalog.OpenVideoFile(clip);
        Assert.IsType<FfmpegFileSource>(ours);
        using var opencv = new VideoFileSource(clip);
        Assert.Equal(opencv.FrameCount, ours.FrameCount);
        Assert.Equal(opencv.Fps, ours.Fps);

        var gaps = new List<double>();
        double previous = double.NaN;
        int frames = 0;
        while (true)
        {
            bool a = ours.TryRead(out var frame, out double time);
            bool b = opencv.TryRead(out var expected, out double expectedTime);
            Assert.Equal(b, a);
            if (!a) break;
            using (frame)
            using (expected)
            {
                Assert.Equal(expected.Size(), frame.Size());
                Assert.Equal(expected.Type(), frame.Type());
                Assert.True(Math.Abs(time - expectedTime) <= 1, $"frame {frames}: {time} ms against OpenCV's {expectedTime} ms");
                double difference = MeanAbsoluteDifference(frame, expected);
                Assert.True(difference < 2, $"frame {frames}: pixels differ by {difference:0.00} levels on average");
            }
            if (!double.IsNaN(previous)) gaps.Add(time - previous);
            previous = time;
            frames++;
        }
        Assert.InRange(frames, 150, 180);
        Assert.Contains(gaps, g => g > 1300);
    }

    /// <summary>A phone video's rotation is applied, as OpenCV applies it: the frames come upright at the rotated size.</summary>
    [SkippableFact]
    public void ARotatedVideoComesOutTurnedAsOpenCvTurnsIt()
    {
        Fixtures.NeedFfmpeg(ffprobe: true);
        using var folder = new TempDirectory();
        string clip = folder.File("rotated.mp4");
        Fixtures.RunFfmpeg("-i", Fixtures.DemoClip, "-frames:v", "10", "-c", "copy", "-metadata:s:v", "rotate=90", clip);

        using var ours = SourceCatalog.OpenVideoFile(clip);
        using var opencv = new VideoFileSource(clip);
        Assert.True(ours.TryRead(out var frame, out _));
        Assert.True(opencv.TryRead(out var expected, out _));
        using (frame)
        using (expected)
        {
            Assert.Equal(new Size(360, 640), expected.Size());
            Assert.Equal(expected.Size(), frame.Size());
            Assert.True(MeanAbsoluteDifference(frame, expected) < 2);
        }
    }

    /// <summary>4:2:0 frames need an even size: an odd-sized video is read by OpenCV.</summary>
    [SkippableFact]
    public void AnOddSizedVideoIsLeftToOpenCv()
    {
        Fixtures.NeedFfmpeg(ffprobe: true);
        using var folder = new TempDirectory();
        string odd = folder.File("odd.mp4");
        Fixtures.RunFfmpeg("-i", Fixtures.DemoClip, "-frames:v", "5", "-vf", "scale=321:239", "-c:v", "mpeg4", odd);
        using var source = SourceCatalog.OpenVideoFile(odd);
        Assert.IsType<VideoFileSource>(source);
        Assert.True(source.TryRead(out var frame, out _));
        using (frame) Assert.Equal(new Size(321, 239), frame.Size());
    }

    /// <summary>
    /// ffprobe's answer for a file is kept only while the file stays the same: a file written again (a recording
    /// replaced under the same name) is probed again, and opened at its new size and length.
    /// </summary>
    [SkippableFact]
    public void AFileWrittenAgainIsProbedAgain()
    {
        Fixtures.NeedFfmpeg(ffprobe: true);
        using var folder = new TempDirectory();
        string clip = folder.File("replaced.mp4");
        Fixtures.RunFfmpeg("-i", Fixtures.DemoClip, "-frames:v", "12", "-c", "copy", clip);
        Assert.Equal((640, 360, 12L), Described(clip));
        Assert.Equal((640, 360, 12L), Described(clip));

        File.Delete(clip);
        Fixtures.RunFfmpeg("-i", Fixtures.DemoClip, "-frames:v", "7", "-vf", "scale=320:180", "-c:v", "libx264", "-preset", "ultrafast", clip);
        Assert.Equal((320, 180, 7L), Described(clip));
        using var source = SourceCatalog.OpenVideoFile(clip);
        Assert.Equal(7, source.FrameCount);
        Assert.True(source.TryRead(out var frame, out _));
        using (frame) Assert.Equal(new Size(320, 180), frame.Size());

        static (int, int, long?) Described(string path) =>
            Ffmpeg.Probe(path, TimeSpan.FromSeconds(10), out string error) is { } info ? (info.Width, info.Height, info.FrameCount) : throw new InvalidOperationException(error);
    }

    /// <summary>Stopping part-way (a run ended early), or before the first frame, leaves no ffmpeg behind.</summary>
    [SkippableFact]
    public void DisposingPartWayEndsItsFfmpeg()
    {
        Skip.IfNot(OperatingSystem.IsLinux(), "processes are looked up in /proc");
        Fixtures.NeedFfmpeg(ffprobe: true);
        using var folder = new TempDirectory();
        string clip = folder.File("stopped-part-way.mp4");
        File.Copy(Fixtures.DemoClip, clip);

        using (var unread = SourceCatalog.OpenVideoFile(clip)) Assert.Equal(300, unread.FrameCount);
        Assert.Empty(FfmpegReading(clip));

        var source = SourceCatalog.OpenVideoFile(clip);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(source.TryRead(out var frame, out _));
            frame.Dispose();
        }
        Assert.NotEmpty(FfmpegReading(clip));
        source.Dispose();
        Assert.Empty(FfmpegReading(clip));
        source.Dispose(); // twice is harmless
    }

    /// <summary>Mean absolute difference of two BGR images, in levels, over the three channels.</summary>
    internal static double MeanAbsoluteDifference(Mat a, Mat b)
    {
        using var difference = new Mat();
        Cv2.Absdiff(a, b, difference);
        var mean = Cv2.Mean(difference);
        return (mean.Val0 + mean.Val1 + mean.Val2) / 3;
    }

    // Processes whose command line names the file (ffmpeg decoding it).
    private static List<int> FfmpegReading(string path)
    {
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            try
            {
                string commandLine = File.ReadAllText(Path.Combine(dir, "cmdline"));
                if (commandLine.Contains("ffmpeg", StringComparison.Ordinal) && commandLine.Contains(path, StringComparison.Ordinal)) found.Add(pid);
            }
            catch (IOException)
            {
                // Ended meanwhile.
            }
            catch (UnauthorizedAccessException)
            {
                // Not ours.
            }
        }
        return found;
    }
}
