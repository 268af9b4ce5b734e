using System.Diagnostics;
using System.Text.Json;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Cli.Tests.Commands;

/// <summary>`run` on recorded video with the real ffmpeg: the demo end to end, Ctrl+C, configs, folders.</summary>
public class RunCommandTests
{
    private static string Weights => Fixtures.ShapesModel;

    private static string Clip => Fixtures.DemoClip;

    private static (string Codec, long Frames) Probe(string mp4)
    {
        var psi = new ProcessStartInfo("ffprobe", ["-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
            "stream=codec_name,nb_read_frames", "-of", "default=nw=1", mp4]) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var p = Process.Start(psi)!;
        string output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"ffprobe cannot read {mp4}: {p.StandardError.ReadToEnd()}");
        var fields = output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('=')).ToDictionary(kv => kv[0], kv => kv[1]);
        return (fields["codec_name"], long.Parse(fields["nb_read_frames"]));
    }

    [SkippableTheory]
    [InlineData("out.mkv", "video output: H.264 in Matroska through")]
    [InlineData("out.avi", "video output: H.264 in AVI through")]
    [InlineData("out.mov", "video output: H.264 QuickTime through")]
    public void TheVideoOutputNoticeNamesTheContainerTheFileGets(string name, string notice)
    {
        Media.Need("ffmpeg");
        using var dir = new TempDirectory();
        var r = CliProcess.Run("run", "--weights", Weights, "--source", Clip, "--img-size", "160", "--duration", "1", "--save", dir.File(name));
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains(notice, r.StdErr);
        Assert.DoesNotContain("H.264 MP4", r.StdErr);
    }

    [SkippableFact]
    public void TheDemoClipGivesAnH264VideoOfEveryFrameAndOneJsonLinePerFrameThatMatchesTheGroundTruth()
    {
        string groundTruth = Fixtures.Require("shapes", "shapes-demo.gt.jsonl");
        using var dir = new TempDirectory();
        string mp4 = dir.File("out.mp4"), json = dir.File("out.jsonl");
        var r = CliProcess.Run("run", "--weights", Weights, "--source", Clip, "--img-size", "320", "--cam-every", "10", "--batch", "2",
            "--save", mp4, "--save-json", json);
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains("H.264 MP4 through", r.StdErr);
        // The summary shows the start-up apart from the steady rate.
        Assert.Matches(@"wall time [0-9.]+ s \([0-9.]+ fps; first frame after [0-9.]+ s, then [0-9.]+ fps\)",
            System.Text.RegularExpressions.Regex.Replace(r.StdOut, @"\s+", " ")); // the table may wrap the cell

        var (codec, frames) = Probe(mp4);
        Assert.Equal("h264", codec);
        Assert.Equal(Probe(Clip).Frames, frames);

        var records = File.ReadAllLines(json).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(frames, records.Length);
        Assert.Equal(Enumerable.Range(0, records.Length), records.Select(e => e.GetProperty("frame").GetInt32()));
        Assert.All(records, e => Assert.Equal(e.GetProperty("frame").GetInt32() * 40.0, e.GetProperty("timestamp_ms").GetDouble(), 1.0));
        Assert.Equal(records.Length / 10, records.Count(e => e.GetProperty("explained").GetBoolean()));
        var explainedWithDetections = records.Where(e => e.GetProperty("explained").GetBoolean())
            .SelectMany(e => e.GetProperty("detections").EnumerateArray().Take(3)).ToArray();
        Assert.NotEmpty(explainedWithDetections);
        Assert.All(explainedWithDetections, d => Assert.InRange(d.GetProperty("map").GetProperty("mass_in_box").GetDouble(), 0, 1));

        // Frame by frame against the clip's ground truth (0.81 recall measured at 320 px); records must line up
        // with their frames: a 10-frame misalignment scores far lower (0.52 measured).
        var truth = File.ReadAllLines(groundTruth).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        double aligned = Recall(records, truth, 0), shifted = Recall(records, truth, 10);
        Assert.True(aligned >= 0.75, $"recall against ground truth {aligned:F3}");
        Assert.True(aligned > shifted + 0.15, $"aligned recall {aligned:F3} vs shifted {shifted:F3}");
    }

    /// <summary>Share of ground-truth objects matched (same class, IoU >= 0.5) by a detection of at least <paramref name="minConfidence"/>, records shifted by <paramref name="shift"/> frames.</summary>
    internal static double Recall(JsonElement[] records, JsonElement[] truth, int shift, double minConfidence = 0.5)
    {
        int found = 0, total = 0;
        for (int i = 0; i + shift < truth.Length && i < records.Length; i++)
        {
            var detections = records[i].GetProperty("detections").EnumerateArray().Where(d => d.GetProperty("confidence").GetDouble() >= minConfidence).ToList();
            foreach (var obj in truth[i + shift].GetProperty("objects").EnumerateArray())
            {
                total++;
                var box = obj.GetProperty("box").EnumerateArray().Select(v => v.GetDouble()).ToArray();
                var match = detections.FirstOrDefault(d => d.GetProperty("class_id").GetInt32() == obj.GetProperty("cls").GetInt32()
                    && IoU(box, d.GetProperty("box").EnumerateArray().Select(v => v.GetDouble()).ToArray()) >= 0.5);
                if (match.ValueKind == JsonValueKind.Undefined) continue;
                found++;
                detections.Remove(match);
            }
        }
        return found / (double)total;
    }

    private static double IoU(double[] a, double[] b)
    {
        double w = Math.Max(0, Math.Min(a[2], b[2]) - Math.Max(a[0], b[0])), h = Math.Max(0, Math.Min(a[3], b[3]) - Math.Max(a[1], b[1]));
        double inter = w * h, union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter;
        return union > 0 ? inter / union : 0;
    }

    [SkippableTheory]
    [InlineData("INT", "interrupted")]
    [InlineData("TERM", "terminated")]
    public void ASignalInTheMiddleOfARecordingLeavesAPlayableMp4WithEveryFrameThatWasProcessed(string signal, string message)
    {
        using var dir = new TempDirectory();
        string mp4 = dir.File("interrupted.mp4"), json = dir.File("interrupted.jsonl");
        // The test host ignores SIGINT and children inherit that; `env --default-signal` gives the run the
        // disposition it has when started from a terminal.
        var psi = new ProcessStartInfo("env") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { "--default-signal=INT", "dotnet", Path.Combine(AppContext.BaseDirectory, "stream-analyzer.dll"), "run", "--weights", Weights, "--source", Clip,
            "--img-size", "640", "--save", mp4, "--save-json", json }) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((!File.Exists(json) || File.ReadAllLines(json).Length < 20) && DateTime.UtcNow < deadline && !p.HasExited) Thread.Sleep(100);
        // (The message must not read stderr.Result before the signal: that waits for the process to end.)
        if (p.HasExited) Assert.Fail("the run ended before it could be interrupted: " + stderr.Result);

        // `env` execs dotnet, so the process id is the run's.
        using (var kill = Process.Start("kill", ["-s", signal, p.Id.ToString()])) kill.WaitForExit();
        Assert.True(p.WaitForExit(TimeSpan.FromSeconds(60)), "the run did not stop after SIGINT");

        Assert.True(p.ExitCode == 130, $"exit code {p.ExitCode}; stderr: {stderr.Result}");
        Assert.Contains($"{message}: finishing the outputs", stderr.Result);
        var (codec, frames) = Probe(mp4);
        Assert.Equal("h264", codec);
        long lines = File.ReadAllLines(json).Length;
        Assert.InRange(lines, 20, 299);
        Assert.Equal(lines, frames);
        Assert.Contains("(stopped early)", stdout.Result);
    }

    [SkippableFact]
    public void FlagsOverrideTheConfigFileAndUnknownKeysOrBadValuesAreNamed()
    {
        using var dir = new TempDirectory();
        string config = dir.File("c.yaml");
        File.WriteAllText(config, $"weights: {Weights}\nsource: {Fixtures.SampleImage("val-00000.jpg")}\nimg-size: 320\nsave-json: {dir.File("from-config.jsonl")}\n");
        var r = CliProcess.Run("run", "--config", config, "--save-json", dir.File("from-flag.jsonl"));
        Assert.True(r.ExitCode == 0, r.All);
        Assert.True(File.Exists(dir.File("from-flag.jsonl")));
        Assert.False(File.Exists(dir.File("from-config.jsonl")));
        Assert.Equal(320, JsonDocument.Parse(File.ReadAllLines(dir.File("from-flag.jsonl"))[0]).RootElement.GetProperty("width").GetInt32());

        File.WriteAllText(config, "img_sz: 320\n");
        r = CliProcess.Run("run", "--config", config);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"{config}: unknown key 'img_sz'", r.StdErr);

        File.WriteAllText(config, "conf-thres: high\n");
        r = CliProcess.Run("run", "--config", config);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(config, r.StdErr);
        Assert.Contains("high", r.StdErr);
        Assert.Contains("--conf-thres", r.StdErr);

        // A list of sources is the flag repeated; a config that is a folder is named as one.
        File.WriteAllText(config, $"weights: {Weights}\nsource: [{Fixtures.SampleImage("val-00000.jpg")}, {Fixtures.SampleImage("val-00002.jpg")}]\n" +
            $"img-size: 160\nsave-json: {dir.File("list.jsonl")}\n");
        r = CliProcess.Run("run", "--config", config);
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Equal(2, File.ReadAllLines(dir.File("list.jsonl")).Length);
        r = CliProcess.Run("run", "--config", dir.Path);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"error: --config {dir.Path}: is a folder; give a YAML file", r.StdErr);
    }

    /// <summary>
    /// Relative paths in a config file are taken from the current folder (as configs/demo.yaml's are); one that is only
    /// beside the config file is named with that rule and the path that would reach it.
    /// </summary>
    [Fact]
    public void ARelativePathInAConfigThatIsOnlyBesideTheFileIsExplained()
    {
        using var dir = new TempDirectory();
        File.Copy(Fixtures.SampleImage("val-00000.jpg"), dir.File("beside.jpg"));
        string config = dir.File("c.yaml");
        File.WriteAllText(config, $"weights: {Weights}\nsource: beside.jpg\nimg-size: 160\n");
        var r = CliProcess.Run("run", "--config", config);
        Assert.Equal(1, r.ExitCode);
        string here = Directory.GetCurrentDirectory(); // the program runs where the tests run
        Assert.Equal($"error: {config}: 'source: beside.jpg': no such file or folder in {here} (relative paths in a config file are taken from the current folder); " +
            $"it is beside the config file: write {Path.GetRelativePath(here, dir.File("beside.jpg"))}", r.StdErr.Trim());
    }

    /// <summary>
    /// <c>--save-preset</c> (flag or config key) is the preset x264 records with: x264 writes its settings into the
    /// stream, and only <c>ultrafast</c> has no CABAC. Without <c>--save</c> it is said to be ignored.
    /// </summary>
    [SkippableFact]
    public void TheRecordingUsesTheX264PresetAskedFor()
    {
        Media.Need("ffmpeg");
        using var dir = new TempDirectory();
        string clip = dir.File("short.mp4");
        Media.Ffmpeg("-i", Clip, "-frames:v", "12", "-c", "copy", clip);
        string config = dir.File("c.yaml");
        File.WriteAllText(config, $"weights: {Weights}\nsource: {clip}\nimg-size: 160\nsave-preset: ultrafast\n");

        var r = CliProcess.Run("run", "--config", config, "--save", dir.File("from-config.mp4"));
        Assert.True(r.ExitCode == 0, r.All);
        r = CliProcess.Run("run", "--config", config, "--save", dir.File("from-flag.mp4"), "--save-preset", "superfast");
        Assert.True(r.ExitCode == 0, r.All);

        Assert.Contains("cabac=0", X264Settings.Of(dir.File("from-config.mp4")));
        Assert.Contains("cabac=1", X264Settings.Of(dir.File("from-flag.mp4")));

        // Without a video to record, the preset (and the other recording options) are said to be ignored.
        r = CliProcess.Run("run", "--config", config, "--save-json", dir.File("only.jsonl"), "--save-heatmap", "false", "--save-conf", "--serve-token", "0123456789abcdef0123");
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains("note: --save-preset sets the encoder of --save videos; ignored without --save", r.StdErr);
        Assert.Contains("note: --save-heatmap applies to --save outputs; ignored without --save", r.StdErr);
        Assert.Contains("note: --save-conf adds confidences to --save-txt files; ignored without --save-txt", r.StdErr);
        Assert.Contains("note: --serve-token guards the --serve web view; ignored without --serve", r.StdErr);
        r = CliProcess.Run("run", "--weights", Weights, "--source", clip, "--img-size", "160", "--save-json", dir.File("plain.jsonl"));
        Assert.True(r.ExitCode == 0, r.All);
        Assert.DoesNotContain("ignored without", r.StdErr);
    }

    [SkippableFact]
    public void AFolderOfVideosAndImagesGivesOneOutputPerSourceAndLabelFiles()
    {
        using var dir = new TempDirectory();
        string input = Path.Combine(dir.Path, "in");
        Directory.CreateDirectory(input);
        // A short clip: the first 30 frames of the demo, re-encoded by ffmpeg.
        using (var cut = Process.Start("ffmpeg", ["-v", "error", "-y", "-i", Clip, "-frames:v", "30", Path.Combine(input, "clip.mp4")])) cut.WaitForExit();
        File.Copy(Fixtures.SampleImage("val-00000.jpg"), Path.Combine(input, "still.jpg"));
        File.WriteAllText(Path.Combine(input, "broken.mp4"), "not a video");

        var r = CliProcess.Run("run", "--weights", Weights, "--source", input, "--img-size", "320", "--batch", "4", "--vid-stride", "2",
            "--save", dir.File("out"), "--save-txt", dir.File("labels"), "--save-json", dir.File("all.jsonl"));

        Assert.Equal(1, r.ExitCode); // broken.mp4 is reported; the others are processed
        Assert.Contains("broken.mp4: cannot open as a video", r.StdErr);
        Assert.Equal(15, Probe(dir.File("out/clip.mp4")).Frames);
        Assert.True(File.Exists(dir.File("out/still.jpg")));
        var records = File.ReadAllLines(dir.File("all.jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(16, records.Length);
        Assert.Equal(Enumerable.Range(0, 15).Select(i => i * 2), records.Where(e => e.GetProperty("source").GetString()!.EndsWith("clip.mp4")).Select(e => e.GetProperty("frame").GetInt32()));
        Assert.True(File.Exists(dir.File("labels/still.txt")));
        Assert.True(File.Exists(dir.File("labels/clip_1.txt")));
        var line = File.ReadAllLines(dir.File("labels/still.txt"))[0].Split(' ');
        Assert.Equal(5, line.Length);
        Assert.All(line.Skip(1), v => Assert.InRange(double.Parse(v, System.Globalization.CultureInfo.InvariantCulture), 0, 1));
    }

    /// <summary>
    /// Sources with the same file name (and a named one) write label files under the same unique stems as their videos
    /// and JSON lines: no source's labels overwrite another's.
    /// </summary>
    [SkippableFact]
    public void LabelFilesOfSourcesWithTheSameFileNameDoNotOverwriteEachOther()
    {
        using var dir = new TempDirectory();
        foreach (var sub in new[] { "a", "b" })
        {
            Directory.CreateDirectory(dir.File(sub));
            using var cut = Process.Start("ffmpeg", ["-v", "error", "-y", "-i", Clip, "-frames:v", "8", dir.File($"{sub}/clip.mp4")])!;
            cut.WaitForExit();
        }
        string outputs = dir.File("out") + "/";
        var r = CliProcess.Run("run", "--weights", Weights, "--img-size", "160", "--source", dir.File("a/clip.mp4"), "--source", dir.File("b/clip.mp4"),
            "--source", $"named={dir.File("a/clip.mp4")}", "--save-json", outputs, "--save-txt", dir.File("labels"));
        Assert.True(r.ExitCode == 0, r.All);
        var labels = Directory.GetFiles(dir.File("labels")).Select(Path.GetFileName).ToArray();
        foreach (var stem in new[] { "clip", "clip_2", "named" })
        {
            // Frames with detections, numbered from 1 as upstream's label files are.
            var expected = File.ReadAllLines(Path.Combine(outputs, stem + ".jsonl")).Select(l => JsonDocument.Parse(l).RootElement)
                .Where(e => e.GetProperty("detections").GetArrayLength() > 0)
                .ToDictionary(e => $"{stem}_{e.GetProperty("frame").GetInt32() + 1}.txt", e => e.GetProperty("detections").GetArrayLength());
            Assert.NotEmpty(expected);
            var written = labels.Where(f => System.Text.RegularExpressions.Regex.IsMatch(f!, $"^{stem}_[0-9]+\\.txt$")).Order().ToArray();
            Assert.Equal(expected.Keys.Order(), written);
            Assert.All(expected, e => Assert.Equal(e.Value, File.ReadAllLines(Path.Combine(dir.File("labels"), e.Key)).Length));
        }
    }

    /// <summary>
    /// An ffmpeg that decodes nothing the way the program asks (another version's options, say) costs the file
    /// nothing: OpenCV decodes it, every frame is processed, and the recording is still ffmpeg's H.264.
    /// </summary>
    [SkippableFact]
    public void AnFfmpegThatWillNotDecodeLeavesTheFileToOpenCv()
    {
        Skip.If(OperatingSystem.IsWindows(), "the stand-in ffmpeg is a shell script");
        Media.Need("ffmpeg", "ffprobe");
        using var dir = new TempDirectory();
        string input = dir.File("short.mp4"), output = dir.File("out.mp4"), json = dir.File("out.jsonl");
        Media.Ffmpeg("-i", Clip, "-frames:v", "12", input); // re-encoded: 12 frames 40 ms apart (a copied cut keeps a reordered frame's gap)
        // Refuses any command that writes a YUV4MPEG stream; runs everything else (the encoder) as the real ffmpeg.
        string fake = dir.File("ffmpeg");
        File.WriteAllText(fake, $"#!/bin/sh\ncase \"$*\" in *yuv4mpegpipe*) echo \"Unrecognized option\" >&2; exit 1;; esac\nexec {Media.Which("ffmpeg")} \"$@\"\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(fake, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        File.CreateSymbolicLink(dir.File("ffprobe"), Media.Which("ffprobe")!);

        var r = CliProcess.RunWithEnvironment(new Dictionary<string, string> { ["STREAM_ANALYZER_FFMPEG"] = fake },
            "run", "--weights", Weights, "--source", input, "--img-size", "160", "--save", output, "--save-json", json);
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Equal(12, File.ReadAllLines(json).Length);
        Assert.Equal(("h264", 12L), Probe(output));
    }

    [SkippableFact]
    public void WithoutFfmpegTheVideoIsWrittenByOpenCvAndTheRunSaysSo()
    {
        using var dir = new TempDirectory();
        string input = dir.File("short.mp4"), output = dir.File("out.mp4");
        using (var cut = Process.Start("ffmpeg", ["-v", "error", "-y", "-i", Clip, "-frames:v", "12", input])) cut.WaitForExit();
        var r = CliProcess.RunWithEnvironment(new Dictionary<string, string> { ["STREAM_ANALYZER_FFMPEG"] = "none" },
            "run", "--weights", Weights, "--source", input, "--img-size", "160", "--save", output);
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains("ffmpeg not found, writing MPEG-4 Part 2 (mp4v) with OpenCV", r.StdErr);
        var (codec, frames) = Probe(output);
        Assert.Equal("mpeg4", codec);
        Assert.Equal(12, frames);
    }

    /// <summary>A folder of images gives its JSON lines in the folder's (sorted) order, run after run, as detect does.</summary>
    [Fact]
    public void AFolderOfImagesIsWrittenInItsOrder()
    {
        using var dir = new TempDirectory();
        string folder = dir.File("images");
        Directory.CreateDirectory(folder);
        string[] samples = ["val-00000.jpg", "val-00002.jpg", "val-00006.jpg"];
        var names = Enumerable.Range(0, 9).Select(i => $"img{(char)('a' + (i * 5) % 9)}.jpg").ToArray(); // made out of order
        for (int i = 0; i < names.Length; i++) File.Copy(Fixtures.SampleImage(samples[i % 3]), Path.Combine(folder, names[i]));
        for (int run = 0; run < 2; run++)
        {
            string json = dir.File($"run{run}.jsonl");
            var r = CliProcess.Run("run", "--weights", Weights, "--source", folder, "--img-size", "160", "--save-json", json);
            Assert.True(r.ExitCode == 0, r.All);
            var order = File.ReadAllLines(json).Select(l => Path.GetFileName(JsonDocument.Parse(l).RootElement.GetProperty("source").GetString()!)).ToArray();
            Assert.Equal(names.Order(StringComparer.Ordinal), order);
        }
    }

    /// <summary>Two named sources reading one file into one JSON lines file: each line says which source it is ("name"), unnamed sources have none.</summary>
    [Fact]
    public void NamedSourcesSharingOneJsonFileAreToldApartByName()
    {
        using var dir = new TempDirectory();
        string json = dir.File("both.jsonl");
        var r = CliProcess.Run("run", "--weights", Weights, "--source", $"left={Clip}", "--source", $"right={Clip}", "--img-size", "160",
            "--vid-stride", "60", "--save-json", json);
        Assert.True(r.ExitCode == 0, r.All);
        var lines = File.ReadAllLines(json).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        foreach (var name in new[] { "left", "right" })
        {
            var frames = lines.Where(l => l.GetProperty("name").GetString() == name).Select(l => l.GetProperty("frame").GetInt64()).ToArray();
            Assert.Equal([0L, 60, 120, 180, 240], frames);
        }
        Assert.Equal(10, lines.Length);

        r = CliProcess.Run("run", "--weights", Weights, "--source", Clip, "--img-size", "160", "--vid-stride", "100", "--save-json", dir.File("plain.jsonl"));
        Assert.True(r.ExitCode == 0, r.All);
        Assert.All(File.ReadAllLines(dir.File("plain.jsonl")), l => Assert.False(JsonDocument.Parse(l).RootElement.TryGetProperty("name", out _)));
    }

    [SkippableFact]
    public void NamedSourcesWriteOneVideoAndOneJsonFilePerNameAndSideBySideDoublesTheWidth()
    {
        using var dir = new TempDirectory();
        string outputs = dir.File("out") + "/";
        var r = CliProcess.Run("run", "--weights", Weights, "--source", $"left={Clip}", "--source", $"right={Clip}", "--img-size", "160",
            "--vid-stride", "10", "--cam-every", "1", "--cam-method", "odam", "--view", "side-by-side", "--save", outputs, "--save-json", outputs);
        Assert.True(r.ExitCode == 0, r.All);
        foreach (var name in new[] { "left", "right" })
        {
            var video = Media.Probe(Path.Combine(outputs, name + ".mp4"));
            Assert.Equal((30L, 1280, 360), (video.Frames, video.Width, video.Height)); // frame | heatmap, 640 x 360 each
            var records = File.ReadAllLines(Path.Combine(outputs, name + ".jsonl")).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
            Assert.Equal(30, records.Length);
            Assert.All(records, rec => Assert.Equal(Path.GetFullPath(Clip), rec.GetProperty("source").GetString()));
            var map = records.SelectMany(rec => rec.GetProperty("detections").EnumerateArray()).First(d => d.TryGetProperty("map", out _)).GetProperty("map");
            Assert.Equal("odam", map.GetProperty("method").GetString());
        }
    }
}
