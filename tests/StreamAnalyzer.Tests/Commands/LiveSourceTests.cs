using System.Diagnostics;
using System.Text.Json;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Tests.Support;
using static StreamAnalyzer.Cli.Tests.ChildProcesses;
using static StreamAnalyzer.Cli.Tests.Media;

namespace StreamAnalyzer.Cli.Tests.Commands;

/// <summary>Live sources with real components: an RTSP server (rtsp-server-perl) fed by ffmpeg, Xvfb for the window.</summary>
[Collection(LiveStreams.Collection)]
public class LiveSourceTests
{
    private static string Weights => Fixtures.ShapesModel;

    [SkippableFact]
    public void AnRtspStreamSurvivesAPublisherRestartWithOrderedOutputsOnARealTimeTimeline()
    {
        Need("rtsp-server-perl", "ffmpeg", "ffprobe");
        using var camera = new RtspCamera();
        using var dir = new TempDirectory();
        string mp4 = dir.File("live.mp4"), json = dir.File("live.jsonl");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "stream-analyzer.dll"), "run", "--weights", Weights, "--source", camera.Url,
            "--img-size", "160", "--cam-every", "10", "--duration", "26", "--stall-timeout", "3", "--save", mp4, "--save-json", json })
            psi.ArgumentList.Add(a);
        using var run = Process.Start(psi)!;
        var stderr = run.StandardError.ReadToEndAsync();
        var stdout = run.StandardOutput.ReadToEndAsync();

        var deadline = DateTime.UtcNow.AddSeconds(20);
        while ((!File.Exists(json) || File.ReadAllLines(json).Length < 20) && DateTime.UtcNow < deadline && !run.HasExited) Thread.Sleep(200);
        if (run.HasExited) Assert.Fail("the run ended early: " + stderr.Result);
        camera.StopPublisher();
        Thread.Sleep(6000);
        camera.StartPublisher();
        Assert.True(run.WaitForExit(TimeSpan.FromSeconds(60)), "the run did not end after --duration");

        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {stderr.Result}");
        Assert.Contains("reading through ffmpeg", stderr.Result);
        Assert.Contains("stream lost", stderr.Result);
        Assert.True(stderr.Result.Contains("reconnected"), stderr.Result + "\n--- server and publisher:\n" + string.Join("\n", ChildProcesses.Output.TakeLast(40)));
        Assert.Contains("live: latency", stdout.Result);

        var records = File.ReadAllLines(json).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        var frames = records.Select(r => r.GetProperty("frame").GetInt64()).ToArray();
        var times = records.Select(r => r.GetProperty("timestamp_ms").GetDouble()).ToArray();
        Assert.True(frames.Zip(frames.Skip(1)).All(p => p.First < p.Second), "frame indices must increase (no duplicates, no reordering)");
        Assert.True(times.Zip(times.Skip(1)).All(p => p.First < p.Second), "timestamps must increase");
        int gapAt = Enumerable.Range(1, times.Length - 1).OrderByDescending(i => times[i] - times[i - 1]).First();
        Assert.True(times[gapAt] - times[gapAt - 1] > 3000, "the outage should show as a gap in the timestamps");
        Assert.True(times.Length - gapAt >= 20, "frames must keep coming after the publisher is back");

        // The MP4 timeline follows real time: its duration spans the first to the last frame's timestamp, outage included.
        using var probe = Process.Start(new ProcessStartInfo("ffprobe", ["-v", "error", "-show_entries", "format=duration", "-of", "default=nw=1:nk=1", mp4])
            { RedirectStandardOutput = true })!;
        double duration = double.Parse(probe.StandardOutput.ReadToEnd().Trim(), System.Globalization.CultureInfo.InvariantCulture);
        probe.WaitForExit();
        Assert.InRange(duration, (times[^1] - times[0]) / 1000 - 1, (times[^1] - times[0]) / 1000 + 1);
    }

    /// <summary>
    /// A camera's password given in its URL reaches the camera but is shown nowhere: not in the log, the status lines
    /// (which use the name given, <c>cam=url</c>) or the JSON lines.
    /// </summary>
    [SkippableFact]
    public void ACameraPasswordInTheUrlIsNeverShown()
    {
        Need("rtsp-server-perl", "ffmpeg", "ffprobe");
        using var camera = new RtspCamera();
        using var dir = new TempDirectory();
        string url = camera.Url.Replace("rtsp://", "rtsp://admin:hunter2@", StringComparison.Ordinal), json = dir.File("cam.jsonl");
        var r = CliProcess.Run(TimeSpan.FromSeconds(90), "run", "--weights", Weights, "--source", $"cam={url}", "--img-size", "160",
            "--duration", "8", "--save-json", json);
        Assert.True(r.ExitCode == 0, r.All);
        Assert.DoesNotContain("hunter2", r.All);
        Assert.Contains(camera.Url.Replace("rtsp://", "rtsp://admin:***@", StringComparison.Ordinal) + ": reading through ffmpeg", r.StdErr);
        Assert.Matches(@"live: latency \d+ ms; cam: ", r.StdOut);
        string records = File.ReadAllText(json);
        Assert.NotEmpty(records);
        Assert.DoesNotContain("hunter2", records);
        Assert.Contains("\"source\":\"rtsp://admin:***@", records);
    }

    [SkippableFact]
    public void AWrongStreamAddressFailsClearlyWithinTheOpenTimeout()
    {
        Need("ffmpeg", "ffprobe");
        var clock = Stopwatch.StartNew();
        var r = CliProcess.Run(TimeSpan.FromSeconds(60), "run", "--weights", Weights, "--source", "rtsp://127.0.0.1:9/nothing", "--open-timeout", "4");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error: rtsp://127.0.0.1:9/nothing:", r.StdErr);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"took {clock.Elapsed}");
        Assert.DoesNotContain("   at ", r.All);
    }

    [SkippableFact]
    public void AMissingCameraIsAClearError()
    {
        var r = CliProcess.Run("run", "--weights", Weights, "--source", "7");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("error: camera 7: no such device (/dev/video7 does not exist)", r.StdErr);
    }

    [SkippableFact]
    public void TheLiveWindowUnderXvfbShowsTheHeatmap()
    {
        Need("Xvfb", "ffmpeg");
        using var dir = new TempDirectory();
        string still = Fixtures.SampleImage("val-00006.jpg");
        string clip = dir.File("still.mp4");
        using (var make = Process.Start("ffmpeg", ["-v", "error", "-y", "-loop", "1", "-i", still, "-t", "30", "-r", "10", "-pix_fmt", "yuv420p", clip])) make.WaitForExit();
        int display = 50 + Random.Shared.Next(0, 40);
        var xvfb = Start("Xvfb", $":{display}", "-screen", "0", "800x600x24", "-nolisten", "tcp");
        try
        {
            Thread.Sleep(1500);
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.Environment["DISPLAY"] = $":{display}";
            foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "stream-analyzer.dll"), "run", "--weights", Weights, "--source", clip,
                "--img-size", "320", "--cam-every", "1", "--cam-method", "gradcam", "--view-img", "--duration", "12" }) psi.ArgumentList.Add(a);
            using var run = Process.Start(psi)!;
            var stderr = run.StandardError.ReadToEndAsync();
            _ = run.StandardOutput.ReadToEndAsync();
            // JET's middle band (cyan, green, yellow) brings bright green that the purple source image does not have.
            double Green(Mat m)
            {
                var channels = Cv2.Split(m);
                using var mask = new Mat();
                Cv2.Threshold(channels[1], mask, 150, 255, ThresholdTypes.Binary);
                foreach (var c in channels) c.Dispose();
                return Cv2.CountNonZero(mask);
            }
            using var source = Cv2.ImRead(still);
            double window = source.Width * source.Height, sourceGreen = Green(source);
            // The map is blended only where it is hot, so the green band covers a few percent of the picture. On a busy
            // machine the window can take a while to show its first explained frame: the screen is read every second
            // while the run lasts, until it shows the map.
            string shot = dir.File("screen.png");
            double best = 0;
            while (!run.HasExited && best <= sourceGreen + 0.02 * window)
            {
                Thread.Sleep(1000);
                string attempt = dir.File("attempt.png");
                using (var grab = Process.Start("ffmpeg", ["-v", "error", "-y", "-f", "x11grab", "-video_size", "800x600", "-i", $":{display}", "-frames:v", "1", attempt]))
                    grab.WaitForExit();
                using var screen = Cv2.ImRead(attempt);
                if (screen.Empty()) continue;
                double green = Green(screen);
                if (green <= best) continue;
                best = green;
                File.Copy(attempt, shot, overwrite: true);
            }
            Assert.True(run.WaitForExit(TimeSpan.FromSeconds(60)), "the run did not end");
            Assert.True(run.ExitCode == 0, stderr.Result);
            Assert.True(best > sourceGreen + 0.02 * window, $"expected a heatmap in the window: at best {best} bright-green pixels on screen, {sourceGreen} in the image");
            File.Copy(shot, Path.Combine(Path.GetTempPath(), "stream-analyzer-window.png"), overwrite: true);
        }
        finally
        {
            Stop(xvfb);
        }
    }

    [SkippableFact]
    public void TheWindowKeysToggleTheHeatmapPauseAndQuit()
    {
        Need("Xvfb", "ffmpeg", "xdotool");
        using var dir = new TempDirectory();
        string still = Fixtures.SampleImage("val-00006.jpg");
        string clip = dir.File("still.mp4"), json = dir.File("w.jsonl");
        using (var make = Process.Start("ffmpeg", ["-v", "error", "-y", "-loop", "1", "-i", still, "-t", "120", "-r", "10", "-pix_fmt", "yuv420p", clip])) make.WaitForExit();
        string display = $":{100 + Random.Shared.Next(0, 50)}";
        var xvfb = Start("Xvfb", display, "-screen", "0", "800x600x24", "-nolisten", "tcp");
        try
        {
            Thread.Sleep(1500);
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.Environment["DISPLAY"] = display;
            foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "stream-analyzer.dll"), "run", "--weights", Weights, "--source", clip,
                "--img-size", "320", "--cam-every", "1", "--view-img", "--duration", "90", "--save-json", json }) psi.ArgumentList.Add(a);
            using var run = Process.Start(psi)!;
            var stderr = run.StandardError.ReadToEndAsync();
            _ = run.StandardOutput.ReadToEndAsync();

            void Tool(params string[] args)
            {
                var x = new ProcessStartInfo("xdotool") { RedirectStandardOutput = true, UseShellExecute = false };
                x.Environment["DISPLAY"] = display;
                foreach (var a in args) x.ArgumentList.Add(a);
                using var p = Process.Start(x)!;
                p.StandardOutput.ReadToEnd();
                p.WaitForExit();
            }
            string? window = null;
            for (int i = 0; i < 60 && window is null; i++)
            {
                Thread.Sleep(500);
                var x = new ProcessStartInfo("xdotool", ["search", "--name", "StreamAnalyzer"]) { RedirectStandardOutput = true, UseShellExecute = false };
                x.Environment["DISPLAY"] = display;
                using var p = Process.Start(x)!;
                window = p.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault();
                p.WaitForExit();
            }
            Assert.True(window is not null, "no window appeared: " + (run.HasExited ? stderr.Result : ""));
            Tool("windowfocus", window!);
            Thread.Sleep(1500);

            double GreenOnScreen()
            {
                string shot = dir.File($"s{Guid.NewGuid():N}.png");
                using (var grab = Process.Start("ffmpeg", ["-v", "error", "-y", "-f", "x11grab", "-video_size", "800x600", "-i", display, "-frames:v", "1", shot]))
                    grab.WaitForExit();
                using var screen = Cv2.ImRead(shot);
                var channels = Cv2.Split(screen);
                using var mask = new Mat();
                Cv2.Threshold(channels[1], mask, 150, 255, ThresholdTypes.Binary);
                foreach (var c in channels) c.Dispose();
                return Cv2.CountNonZero(mask);
            }
            double withMap = GreenOnScreen();
            Tool("key", "h");
            Thread.Sleep(1500);
            double without = GreenOnScreen();
            Tool("key", "h");
            Thread.Sleep(1500);
            double again = GreenOnScreen();
            // Without the map some green stays (a class colour of boxes and labels); the hot-only blend adds the rest.
            Assert.True(withMap > without + 1500 && again > without + 1500, $"bright-green pixels: {withMap} with the map, {without} after h, {again} after h again");

            Tool("key", "space");
            Thread.Sleep(1000);
            int paused = File.ReadAllLines(json).Length;
            Thread.Sleep(2000);
            Assert.Equal(paused, File.ReadAllLines(json).Length); // the pipeline waits while paused
            Tool("key", "space");
            Thread.Sleep(2000);
            Assert.True(File.ReadAllLines(json).Length > paused, "processing resumes after space");

            Tool("key", "q");
            Assert.True(run.WaitForExit(TimeSpan.FromSeconds(30)), "q did not end the run");
            Assert.True(run.ExitCode == 0, stderr.Result);
            Assert.Contains("window closed (q/Esc)", stderr.Result);
        }
        finally
        {
            Stop(xvfb);
        }
    }
}
