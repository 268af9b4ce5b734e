using System.Diagnostics;
using System.Text.Json;
using OpenCvSharp;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Cli.Tests.Commands;

/// <summary>
/// Broken and unusual inputs, as a new user meets them: each gets one clear line naming it, the other inputs are
/// still processed, the exit code says something failed, and no output is left behind that claims success.
/// </summary>
public class BadInputTests
{
    private static string Weights => Fixtures.ShapesModel;

    private static string[] Errors(CliProcess.Result r) => r.StdErr.Split('\n').Where(l => l.StartsWith("error: ", StringComparison.Ordinal)).ToArray();

    private static JsonElement[] JsonLines(string path) => File.ReadAllLines(path).Select(l => JsonDocument.Parse(l).RootElement).ToArray();

    /// <summary>The demo clip with its index at the front, so that a cut leaves the frames before it readable.</summary>
    private static string Faststart(TempDirectory dir)
    {
        string path = dir.File("faststart.mp4");
        Media.Ffmpeg("-i", Fixtures.DemoClip, "-c", "copy", "-movflags", "+faststart", path);
        return path;
    }

    [Fact]
    public void ImagesOfExtremeShapeAreProcessedWithTheRestOfTheirFolder()
    {
        using var dir = new TempDirectory();
        string input = Directory.CreateDirectory(dir.File("in")).FullName;
        using (var wide = new Mat(1, 5000, MatType.CV_8UC3, Scalar.All(90))) Cv2.ImWrite(Path.Combine(input, "a-wide.png"), wide);
        using (var tall = new Mat(5000, 1, MatType.CV_8UC3, Scalar.All(90))) Cv2.ImWrite(Path.Combine(input, "b-tall.png"), tall);
        File.Copy(Fixtures.SampleImage("val-00000.jpg"), Path.Combine(input, "c-good.jpg"));

        var r = CliProcess.Run("run", "--weights", Weights, "--source", input, "--img-size", "320", "--save", dir.File("out"), "--save-json", dir.File("out.jsonl"));
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Equal(3, JsonLines(dir.File("out.jsonl")).Length);
        Assert.Equal(["a-wide.png", "b-tall.png", "c-good.jpg"], Directory.GetFiles(dir.File("out")).Select(Path.GetFileName).Order());

        r = CliProcess.Run("detect", "--weights", Weights, "--source", input, "--img-size", "320", "--batch", "3", "--project", dir.Path, "--name", "d");
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains("3 image(s)", r.StdOut);
    }

    [Fact]
    public void AVideoWithNoDecodableFrameIsReportedQuietlyWhileTheOthersRun()
    {
        using var dir = new TempDirectory();
        string input = Directory.CreateDirectory(dir.File("in")).FullName;
        var clip = File.ReadAllBytes(Faststart(dir));
        var rng = new Random(5);
        // Index intact, every frame's data scrambled.
        int mdat = clip.AsSpan().IndexOf("mdat"u8);
        for (int i = mdat + 4; i < clip.Length; i++) clip[i] = (byte)rng.Next(256);
        File.WriteAllBytes(Path.Combine(input, "a-broken.mp4"), clip);
        File.Copy(Fixtures.SampleImage("val-00006.jpg"), Path.Combine(input, "b-good.jpg"));

        var r = CliProcess.Run("run", "--weights", Weights, "--source", input, "--img-size", "160", "--save", dir.File("out"), "--save-json", dir.File("out.jsonl"));

        Assert.Equal(1, r.ExitCode);
        Assert.Contains(Errors(r), l => l.Contains("a-broken.mp4: no frame could be decoded"));
        Assert.True(r.StdErr.Split('\n').Length < 15, "the decoder's own complaints stay quiet:\n" + r.StdErr);
        Assert.Equal(["b-good.jpg"], Directory.GetFiles(dir.File("out")).Select(Path.GetFileName)); // no empty a-broken.mp4
        Assert.Single(JsonLines(dir.File("out.jsonl")));
    }

    [Fact]
    public void AnAudioOnlyFileIsNamedAsHoldingNoVideoWhileTheOthersRun()
    {
        using var dir = new TempDirectory();
        string input = Directory.CreateDirectory(dir.File("in")).FullName;
        Media.Ffmpeg("-f", "lavfi", "-i", "sine=frequency=440:duration=1", "-c:a", "aac", Path.Combine(input, "a-song.mp4"));
        File.WriteAllText(Path.Combine(input, "b-notes.mp4"), "not a video");
        File.Copy(Fixtures.SampleImage("val-00006.jpg"), Path.Combine(input, "c-good.jpg"));

        var r = CliProcess.Run("run", "--weights", Weights, "--source", input, "--img-size", "160", "--save-json", dir.File("out.jsonl"));

        Assert.Equal(1, r.ExitCode);
        Assert.Contains(Errors(r), l => l.Contains("a-song.mp4: holds no video stream (audio only?)"));
        Assert.Contains(Errors(r), l => l.Contains("b-notes.mp4: cannot open as a video"));
        Assert.Single(JsonLines(dir.File("out.jsonl")));
    }

    [Fact]
    public void ATruncatedVideoIsProcessedUpToWhereItEndsAndReportedAsTruncated()
    {
        using var dir = new TempDirectory();
        var clip = File.ReadAllBytes(Faststart(dir));
        string cut = dir.File("cut.mp4");
        File.WriteAllBytes(cut, clip[..(clip.Length / 2)]);

        var r = CliProcess.Run("run", "--weights", Weights, "--source", cut, "--img-size", "160", "--save", dir.File("out.mp4"), "--save-json", dir.File("out.jsonl"));

        Assert.Equal(1, r.ExitCode);
        int processed = JsonLines(dir.File("out.jsonl")).Length;
        Assert.InRange(processed, 50, 250);
        Assert.Contains(Errors(r), l => l.Contains($"cut.mp4: ended after {processed} of 300 frames (truncated or damaged)"));
        Assert.Equal(processed, Media.Probe(dir.File("out.mp4")).Frames);
    }

    [Fact]
    public void AnOddSizedVideoIsRecordedAsH264WithEveryPixel()
    {
        using var dir = new TempDirectory();
        string odd = dir.File("odd.mp4");
        Media.Ffmpeg("-i", Fixtures.DemoClip, "-frames:v", "30", "-vf", "scale=321:239", "-c:v", "mpeg4", odd);
        var r = CliProcess.Run("run", "--weights", Weights, "--source", odd, "--img-size", "160", "--save", dir.File("out.mp4"));
        Assert.True(r.ExitCode == 0, r.All);
        var probed = Media.Probe(dir.File("out.mp4"));
        Assert.Equal(("h264", 30L), (probed.Codec, probed.Frames));
        Assert.Equal((322, 240), (probed.Width, probed.Height)); // padded by one pixel, nothing cropped
    }

    [Fact]
    public void AVariableFrameRateVideoKeepsItsTimeline()
    {
        // 12 s at 25 fps with 1.3 s missing in the middle: the output must last 12 s, the gap held on the last frame.
        using var dir = new TempDirectory();
        string vfr = dir.File("vfr.mp4");
        Media.Ffmpeg("-i", Fixtures.DemoClip, "-t", "12", "-vf", "select='not(between(t,5,6.3))'", "-fps_mode", "vfr", "-c:v", "libx264", vfr);
        var source = Media.Probe(vfr);
        Assert.True(source.Frames < 280);

        var r = CliProcess.Run("run", "--weights", Weights, "--source", vfr, "--img-size", "160", "--save", dir.File("out.mp4"), "--save-json", dir.File("out.jsonl"));

        Assert.True(r.ExitCode == 0, r.All);
        var output = Media.Probe(dir.File("out.mp4"));
        Assert.Equal(300, output.Frames);
        Assert.Equal(12.0, output.Duration, 0.05);
        var timestamps = JsonLines(dir.File("out.jsonl")).Select(e => e.GetProperty("timestamp_ms").GetDouble()).ToArray();
        Assert.Equal(source.Frames, timestamps.Length);
        Assert.Contains(timestamps.Zip(timestamps.Skip(1)), p => p.Second - p.First > 1300);
    }

    [Theory]
    [InlineData("encoder")]
    [InlineData("everything")]
    public async Task ARecordingStaysPlayableWhenItsEncoderOrTheWholeMachineDies(string killed)
    {
        Media.Need("ffmpeg", "pkill");
        using var dir = new TempDirectory();
        string mp4 = dir.File("rec.mp4"), json = dir.File("rec.jsonl");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in new[] { Path.Combine(AppContext.BaseDirectory, "stream-analyzer.dll"), "run", "--weights", Weights, "--source", Fixtures.DemoClip,
            "--img-size", "160", "--save", mp4, "--save-json", json }) psi.ArgumentList.Add(a);
        using var run = Process.Start(psi)!;
        var stderr = run.StandardError.ReadToEndAsync();
        _ = run.StandardOutput.ReadToEndAsync();
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while ((!File.Exists(json) || File.ReadAllLines(json).Length < 150) && !run.HasExited && DateTime.UtcNow < deadline) Thread.Sleep(100);
        Assert.False(run.HasExited, "the run ended before it could be interrupted");

        // kill -9 of ffmpeg alone is a dead encoder (or a full disk); of both, a power cut: nothing gets to finish the file.
        using (var kill = Process.Start("pkill", ["-9", "-f", $"ffmpeg.*{mp4}"])) kill.WaitForExit();
        if (killed == "everything") run.Kill();
        await run.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(60)).Token);
        string errors = await stderr;

        var probed = Media.Probe(mp4);
        Assert.Equal("h264", probed.Codec);
        Assert.InRange(probed.Frames, 100, 300); // up to the last whole second written
        if (killed == "encoder")
        {
            Assert.Equal(1, run.ExitCode);
            Assert.Contains($"{mp4}: recording stopped after", errors);
            Assert.Contains("what was written before plays", errors);
        }
    }

    [Fact]
    public void AFullDiskStopsTheRecordingWithAClearErrorAndAPlayableFile()
    {
        // The encoder may write at most ~300 KB (a file-size limit, as a nearly full disk): it stops part-way.
        Media.Need("ffmpeg", "sh");
        using var dir = new TempDirectory();
        string wrapper = dir.File("ffmpeg-small-disk");
        File.WriteAllText(wrapper, $"#!/bin/sh\nulimit -f 300\nexec {Media.Which("ffmpeg")} \"$@\"\n");
        if (!OperatingSystem.IsWindows()) File.SetUnixFileMode(wrapper, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        string mp4 = dir.File("rec.mp4");
        var r = CliProcess.RunWithEnvironment(new Dictionary<string, string> { ["STREAM_ANALYZER_FFMPEG"] = wrapper },
            "run", "--weights", Weights, "--source", Fixtures.DemoClip, "--img-size", "160", "--save", mp4, "--save-json", dir.File("rec.jsonl"));

        Assert.Equal(1, r.ExitCode);
        Assert.Contains(Errors(r), l => l.Contains($"{mp4}: recording stopped after"));
        Assert.InRange(new FileInfo(mp4).Length, 1, 300 * 1024);
        Assert.True(Media.Probe(mp4).Frames > 0, "what was written before the disk filled plays");
    }

    [Fact]
    public void OutputsThatCannotBeCreatedAreRefusedBeforeAnythingIsWritten()
    {
        using var dir = new TempDirectory();
        string file = dir.File("a-file");
        File.WriteAllText(file, "");
        var r = CliProcess.Run("run", "--weights", Weights, "--source", Fixtures.DemoClip, "--save", Path.Combine(file, "out.mp4"), "--save-json", dir.File("j.jsonl"));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal([$"error: --save {Path.Combine(file, "out.mp4")}: '{file}' is a file, so no folder can be made there"], Errors(r));
        Assert.False(File.Exists(dir.File("j.jsonl")), "no empty JSON lines file is left behind");

        // The checks create nothing: the folders of the outputs checked before the refused one are not left behind.
        r = CliProcess.Run("run", "--weights", Weights, "--source", Fixtures.DemoClip, "--save", dir.File("v/out.mp4"), "--save-json", dir.File("j/out.jsonl"),
            "--save-txt", file);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal([$"error: --save-txt {file}: '{file}' is a file, so no folder can be made there"], Errors(r));
        Assert.False(Directory.Exists(dir.File("v")) || Directory.Exists(dir.File("j")), "no empty output folder is left behind");

        // A folder that exists but takes no files (/proc) is refused up front, naming the folder, not mid-run.
        if (OperatingSystem.IsLinux())
        {
            r = CliProcess.Run("run", "--weights", Weights, "--source", Fixtures.DemoClip, "--save", dir.File("v/out.mp4"), "--save-json", "/proc/x.jsonl");
            Assert.Equal(1, r.ExitCode);
            Assert.Equal(["error: --save-json /proc/x.jsonl: cannot write in '/proc' (files cannot be created there)"], Errors(r));
            Assert.False(Directory.Exists(dir.File("v")), "no empty output folder is left behind");
        }

        // An existing folder is not refused: it gets one <name>.jsonl per source.
        r = CliProcess.Run("run", "--weights", Weights, "--source", Fixtures.DemoClip, "--img-size", "160", "--vid-stride", "30", "--save-json", dir.Path);
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Equal(10, File.ReadAllLines(dir.File("shapes-demo.jsonl")).Length);
    }

    [Theory]
    [InlineData("out.webm")]
    [InlineData("o/clip.TS")]
    public void ARecordingNamedInAContainerThatIsNotWrittenIsRefusedNotMadeAFolder(string name)
    {
        using var dir = new TempDirectory();
        string save = dir.File(name);
        var r = CliProcess.Run("run", "--weights", Weights, "--source", Fixtures.DemoClip, "--img-size", "160", "--save", save, "--save-json", dir.File("j.jsonl"));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal([$"error: --save {save}: {Path.GetExtension(name)} files are not written; name an .mp4, .mkv, .mov or .avi file, or a folder"], Errors(r));
        Assert.False(Directory.Exists(save) || File.Exists(save), "nothing is made under that name");
        Assert.False(File.Exists(dir.File("j.jsonl")), "no empty JSON lines file is left behind");
    }

    /// <summary>
    /// An output that is one of the run's inputs (the video itself, through a link to it or to a folder above it, or a
    /// folder of images saved into itself), two outputs on one file, and JSON lines under an image's name are refused before anything is
    /// written: the inputs keep every byte.
    /// </summary>
    [Fact]
    public void OutputsThatWouldOverwriteAnInputOrEachOtherAreRefusedAndTheInputsKept()
    {
        using var dir = new TempDirectory();
        string clip = dir.File("clip.mp4"), images = dir.File("images");
        File.Copy(Fixtures.DemoClip, clip);
        Directory.CreateDirectory(images);
        File.Copy(Fixtures.SampleImage("val-00000.jpg"), Path.Combine(images, "a.jpg"));
        File.Copy(Fixtures.SampleImage("val-00006.jpg"), Path.Combine(images, "b.jpg"));
        File.CreateSymbolicLink(dir.File("link.mp4"), clip);
        using var elsewhere = new TempDirectory();
        string folderLink = elsewhere.File("same-folder");
        Directory.CreateSymbolicLink(folderLink, dir.Path);
        var before = Directory.EnumerateFiles(dir.Path, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllBytes);

        (string[] Args, string Error)[] cases =
        [
            (["--source", clip, "--save", clip], $"error: --save {clip}: that is an input of this run, which writing would destroy; name another file or folder"),
            (["--source", clip, "--save", dir.Path], $"error: --save {Path.Combine(dir.Path, "clip.mp4")}: that is an input of this run, which writing would destroy; name another file or folder"),
            (["--source", dir.File("link.mp4"), "--save", clip], $"error: --save {clip}: that is an input of this run, which writing would destroy; name another file or folder"),
            (["--source", clip, "--save", Path.Combine(folderLink, "clip.mp4")], $"error: --save {Path.Combine(folderLink, "clip.mp4")}: that is an input of this run, which writing would destroy; name another file or folder"),
            (["--source", Path.Combine(folderLink, "images"), "--save", images], $"error: --save {Path.Combine(images, "a.jpg")}: that is an input of this run, which writing would destroy; name another file or folder"),
            (["--source", images, "--save", images], $"error: --save {Path.Combine(images, "a.jpg")}: that is an input of this run, which writing would destroy; name another file or folder"),
            (["--source", clip, "--save", dir.File("o.mp4"), "--save-json", dir.File("o.mp4")], $"error: --save and --save-json both name {dir.File("o.mp4")}: give each its own file"),
            (["--source", clip, "--save-json", Path.Combine(images, "a.jpg")], $"error: --save-json {Path.Combine(images, "a.jpg")}: JSON lines under a .jpg name; name a .jsonl file or a folder"),
        ];
        foreach (var (args, error) in cases)
        {
            var r = CliProcess.Run(["run", "--weights", Weights, "--img-size", "160", .. args]);
            Assert.Equal(1, r.ExitCode);
            Assert.Equal([error], Errors(r));
        }
        var after = Directory.EnumerateFiles(dir.Path, "*", SearchOption.AllDirectories).ToDictionary(f => f, File.ReadAllBytes);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var (file, bytes) in before) Assert.True(bytes.AsSpan().SequenceEqual(after[file]), $"{file} was changed");
    }

    /// <summary>One image saved under an image name is written there, in that name's format; a name of the wrong kind is refused.</summary>
    [Fact]
    public void OneImageIsSavedUnderTheImageNameGivenAndAMismatchedNameIsRefused()
    {
        using var dir = new TempDirectory();
        var r = CliProcess.Run("run", "--weights", Weights, "--img-size", "160", "--source", Fixtures.SampleImage("val-00000.jpg"), "--save", dir.File("annotated.png"));
        Assert.True(r.ExitCode == 0, r.All);
        using (var image = OpenCvSharp.Cv2.ImRead(dir.File("annotated.png"))) Assert.False(image.Empty());
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, File.ReadAllBytes(dir.File("annotated.png"))[..4]); // PNG, not the source's JPEG

        r = CliProcess.Run("run", "--weights", Weights, "--img-size", "160", "--source", Fixtures.SampleImage("val-00000.jpg"), "--save", dir.File("annotated.mp4"));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal([$"error: --save {dir.File("annotated.mp4")}: the source is an image; name an image file (e.g. .jpg or .png) or a folder"], Errors(r));
        r = CliProcess.Run("run", "--weights", Weights, "--img-size", "160", "--source", Fixtures.DemoClip, "--save", dir.File("labels.txt"));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal([$"error: --save {dir.File("labels.txt")}: .txt is not an output of --save; name a video or image file, or a folder"], Errors(r));
        Assert.False(File.Exists(dir.File("annotated.mp4")) || Directory.Exists(dir.File("labels.txt")));

        // A format OpenCV cannot write is refused before the run; an existing folder stays a folder, whatever its name.
        r = CliProcess.Run("run", "--weights", Weights, "--img-size", "160", "--source", Fixtures.SampleImage("val-00000.jpg"), "--save", dir.File("raw.dng"));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal([$"error: --save {dir.File("raw.dng")}: .dng images cannot be written here; name a .jpg or .png file, or a folder"], Errors(r));
        Directory.CreateDirectory(dir.File("shots.jpg"));
        r = CliProcess.Run("run", "--weights", Weights, "--img-size", "160", "--source", Fixtures.SampleImage("val-00000.jpg"), "--save", dir.File("shots.jpg"));
        Assert.True(r.ExitCode == 0, r.All);
        Assert.True(File.Exists(Path.Combine(dir.File("shots.jpg"), "val-00000.jpg")));
    }

    [Fact]
    public void AnAnnotatedImageThatCannotBeWrittenFailsTheRunWithoutClaimingSuccess()
    {
        using var dir = new TempDirectory();
        Directory.CreateDirectory(Path.Combine(dir.Path, "d", "val-00000.jpg")); // a folder where the image should go
        var r = CliProcess.Run("detect", "--weights", Weights, "--source", Fixtures.Shipped("samples", "images"), "--img-size", "160",
            "--project", dir.Path, "--name", "d", "--exist-ok");
        Assert.Equal(1, r.ExitCode);
        Assert.Contains(Errors(r), l => l.Contains("val-00000.jpg: the annotated image could not be written"));
        Assert.Contains("2 annotated image(s) saved", r.StdOut);
        // Each image keeps its place in the count, the one that could not be written too.
        var numbers = System.Text.RegularExpressions.Regex.Matches(r.StdOut, @"image (\d+)/3 ").Select(m => m.Groups[1].Value);
        Assert.Equal(["1", "2", "3"], numbers);
    }

    [Fact]
    public void AListWithAMissingEntryRunsTheOthersAndNamesIt()
    {
        using var dir = new TempDirectory();
        string list = dir.File("sources.txt");
        File.WriteAllLines(list, [Fixtures.SampleImage("val-00000.jpg"), "not-there.mp4", Fixtures.SampleImage("val-00002.jpg")]);
        var r = CliProcess.Run("run", "--weights", Weights, "--source", list, "--img-size", "160", "--save-json", dir.File("out.jsonl"));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal(2, JsonLines(dir.File("out.jsonl")).Length);
        Assert.Contains(Errors(r), l => l.Contains($"{list}: {dir.File("not-there.mp4")}: no such file or folder"));
    }

    [Theory]
    [InlineData("detect", "--batch", "0", "--batch must be at least 1, got 0")]
    [InlineData("explain", "--top-k", "0", "--top-k must be at least 1, got 0")]
    [InlineData("run", "--cam-every", "-1", "--cam-every must be at least 0, got -1")]
    [InlineData("run", "--conf-thres", "2", "--conf-thres must be between 0 and 1, got 2")]
    [InlineData("detect", "--img-size", "0", "--img-size must be between 1 and 16384, got 0")]
    [InlineData("detect", "--img-size", "-320", "--img-size must be between 1 and 16384, got -320")]
    [InlineData("run", "--cam-method", "smoothgrad", "--cam-method 'smoothgrad': not a CAM method; choose one of gradcam")]
    [InlineData("run", "--alpha", "1.5", "--alpha must be between 0 and 1, got 1.5")]
    public void OptionValuesOutOfRangeAreOneLineNamingTheFlag(string command, string flag, string value, string message)
    {
        var r = CliProcess.Run(command, "--weights", Weights, "--source", Fixtures.SampleImage("val-00000.jpg"), flag, value);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"error: {message}", r.StdErr);
        Assert.DoesNotContain("Usage:", r.All);
    }

    [Theory]
    [InlineData("run", "--img-size", "abc", "--img-size: 'abc' is not a whole number")]
    [InlineData("detect", "--img", "1.5", "--img-size: '1.5' is not a whole number")]
    [InlineData("detect", "--img-size", "99999999999", "--img-size: '99999999999' is too large a number")]
    [InlineData("run", "--conf-thres", "x", "--conf-thres: 'x' is not a number")]
    [InlineData("run", "--conf-thres", "0,5", "--conf-thres: '0,5' is not a number")]
    [InlineData("explain", "--alpha", "half", "--alpha: 'half' is not a number")]
    [InlineData("run", "--classes", "car", "--classes: 'car' is not a whole number")]
    public void OptionValuesThatAreNotNumbersAreOneLineWithoutTypeNamesOrRangeChecks(string command, string flag, string value, string message)
    {
        var r = CliProcess.Run(command, "--weights", Weights, "--source", Fixtures.SampleImage("val-00000.jpg"), flag, value);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal([$"error: {message}"], Errors(r)); // no "must be between ..., got 0" after it
        Assert.DoesNotContain("System.", r.All);
    }

    [Theory]
    [InlineData("run", "--backend", "foo", "--backend: 'foo' is not one of auto, onnx, torch")]
    [InlineData("explain", "--backend", "Tensorrt", "--backend: 'Tensorrt' is not one of auto, onnx, torch")]
    [InlineData("bench", "--backend", "1", "--backend: '1' is not one of auto, onnx, torch")]
    [InlineData("run", "--view", "sideways", "--view: 'sideways' is not one of overlay, side-by-side")]
    public void ChoicesOutsideTheListAreOneLineListingThemInLowerCase(string command, string flag, string value, string message)
    {
        var r = CliProcess.Run(command, "--weights", Weights, "--source", Fixtures.SampleImage("val-00000.jpg"), flag, value);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal([$"error: {message}"], Errors(r));
        Assert.DoesNotContain("StreamAnalyzer.Pipeline", r.All);
    }

    [Fact]
    public void ChoicesAreListedInLowerCaseAndAcceptedInAnyCase()
    {
        var help = CliProcess.Run("run", "--help");
        Assert.Contains("--backend <auto|onnx|torch>", help.StdOut);
        Assert.Contains("--view <overlay|side-by-side>", help.StdOut);
        Assert.DoesNotContain("Auto", help.StdOut);

        var r = CliProcess.Run("detect", "--weights", Weights, "--source", Fixtures.SampleImage("val-00000.jpg"), "--img-size", "160", "--nosave", "--backend", "TORCH");
        Assert.True(r.ExitCode == 0, r.All);
        r = CliProcess.Run("run", "--weights", Weights, "--source", Fixtures.SampleImage("val-00000.jpg"), "--img-size", "160", "--view", "Side-By-Side");
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains("onnx", r.StdOut); // no --backend: auto, which is ONNX Runtime on the CPU
    }

    [Theory]
    [InlineData("run", "--cam-hold", "maybe", "--cam-hold: 'maybe' is not true or false")]
    [InlineData("run", "--save-heatmap=no", null, "--save-heatmap: 'no' is not true or false")]
    [InlineData("detect", "--nosave", "1", "--nosave: '1' is not true or false")]
    [InlineData("explain", "--evaluate", "yes", "--evaluate: 'yes' is not true or false")]
    public void OnOffFlagsWithAValueOtherThanTrueOrFalseAreOneLineNamingTheFlag(string command, string flag, string? value, string message)
    {
        var args = new List<string> { command, "--weights", Weights, "--source", Fixtures.SampleImage("val-00000.jpg"), flag };
        if (value is not null) args.Add(value);
        var r = CliProcess.Run([.. args]);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal([$"error: {message}"], Errors(r)); // not "Unrecognized command or argument"
    }

    /// <summary>A run refused for its source shows the error alone, not first a note about outputs it will never write.</summary>
    [Fact]
    public void ARefusedRunWithoutOutputsShowsOnlyItsError()
    {
        using var dir = new TempDirectory();
        var r = CliProcess.Run("run", "--weights", Weights, "--source", dir.File("missing.mp4"));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal([$"error: {dir.File("missing.mp4")}: no such file or folder"], r.StdErr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }

    [Fact]
    public void AClassTheModelDoesNotHaveIsRefusedOnceTheModelIsLoadedBeforeAnyOutput()
    {
        using var dir = new TempDirectory();
        var r = CliProcess.Run("run", "--weights", Weights, "--source", Fixtures.DemoClip, "--img-size", "160", "--classes", "99",
            "--save", dir.File("out.mp4"), "--save-json", dir.File("out.jsonl"));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal(["error: --classes: class 99 does not exist (the model has classes 0 to 2)"], Errors(r));
        Assert.False(File.Exists(dir.File("out.jsonl")) || File.Exists(dir.File("out.mp4")), "nothing is written");

        r = CliProcess.Run("detect", "--weights", Weights, "--source", Fixtures.SampleImage("val-00000.jpg"), "--img-size", "160", "--classes", "0", "5", "3",
            "--project", dir.Path, "--name", "d", "--save-json", dir.File("d.jsonl"));
        Assert.Equal(1, r.ExitCode);
        Assert.Equal(["error: --classes: class 3 does not exist (the model has classes 0 to 2)"], Errors(r));
        Assert.False(Directory.Exists(dir.File("d")) || File.Exists(dir.File("d.jsonl")), "no results folder or JSON lines are left behind");
    }

    [Fact]
    public void AFolderWhereAFileIsExpectedIsCalledAFolder()
    {
        using var dir = new TempDirectory();
        var r = CliProcess.Run("detect", "--weights", dir.Path, "--source", Fixtures.SampleImage("val-00000.jpg"), "--nosave");
        Assert.Equal(1, r.ExitCode);
        Assert.Equal([$"error: {dir.Path}: is a folder, not a checkpoint file"], Errors(r));

        r = CliProcess.Run("bench", "--weights", Weights, "--source", dir.Path);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal([$"error: --source {dir.Path}: the folder has no images or videos (bench times one image or video file)"], Errors(r));

        File.Copy(Fixtures.SampleImage("val-00000.jpg"), dir.File("a.jpg"));
        r = CliProcess.Run("bench", "--weights", Weights, "--source", dir.Path);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal([$"error: --source {dir.Path}: is a folder; bench times one image or video file, e.g. --source {dir.File("a.jpg")}"], Errors(r));
    }

    [Fact]
    public void AConfigValueOfTheWrongShapeNamesItsKey()
    {
        using var dir = new TempDirectory();
        string config = dir.File("c.yaml");
        File.WriteAllText(config, $"weights: {Weights}\nsource: {Fixtures.DemoClip}\ncam-every: [1, 2]\n");
        var r = CliProcess.Run("run", "--config", config);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains($"error: {config}: 'cam-every' takes one value, not a list", r.StdErr);

        File.WriteAllText(config, $"weights: {Weights}\nsource: {Fixtures.DemoClip}\niou-thres: 7\n");
        r = CliProcess.Run("run", "--config", config);
        Assert.Contains($"error: {config}: 'iou-thres': --iou-thres must be between 0 and 1, got 7", r.StdErr);

        File.WriteAllText(config, $"weights: {Weights}\nsource: {Fixtures.DemoClip}\nimg-size: big\n");
        r = CliProcess.Run("run", "--config", config);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal([$"error: {config}: 'img-size': --img-size: 'big' is not a whole number"], Errors(r));

        File.WriteAllText(config, $"weights: {Weights}\nsource: {Fixtures.DemoClip}\nbackend: gpu\n");
        r = CliProcess.Run("run", "--config", config);
        Assert.Equal([$"error: {config}: 'backend': --backend: 'gpu' is not one of auto, onnx, torch"], Errors(r));

        File.WriteAllText(config, $"weights: {Weights}\nsource: {Fixtures.DemoClip}\ncam-hold: maybe\n");
        r = CliProcess.Run("run", "--config", config);
        Assert.Equal([$"error: {config}: 'cam-hold': --cam-hold: 'maybe' is not true or false"], Errors(r));
    }

    [Fact]
    public void ANonMultipleImageSizeIsRoundedWithANotice()
    {
        var r = CliProcess.Run("detect", "--weights", Weights, "--source", Fixtures.SampleImage("val-00000.jpg"), "--img-size", "333", "--nosave");
        Assert.True(r.ExitCode == 0, r.All);
        Assert.Contains("note: --img-size 333 is not a multiple of the model's largest stride 32: using 352", r.StdErr);
    }

    [Fact]
    public void AnOpenCvRuntimeThatCannotLoadIsExplainedInOneLine()
    {
        // A copy of the program whose OpenCV native library is unusable (as when GTK 3 is missing).
        using var dir = new TempDirectory();
        string bin = AppContext.BaseDirectory;
        foreach (var f in Directory.GetFiles(bin)) File.Copy(f, Path.Combine(dir.Path, Path.GetFileName(f)));
        string native = Path.Combine("runtimes", "linux-x64", "native");
        Directory.CreateDirectory(Path.Combine(dir.Path, native));
        foreach (var f in Directory.GetFiles(Path.Combine(bin, native)))
        {
            string target = Path.Combine(dir.Path, native, Path.GetFileName(f));
            if (Path.GetFileName(f) == "libOpenCvSharpExtern.so") File.WriteAllText(target, "not a library");
            else File.CreateSymbolicLink(target, f);
        }
        var psi = new ProcessStartInfo("dotnet", [Path.Combine(dir.Path, "stream-analyzer.dll"), "detect", "--weights", Weights, "--source", Fixtures.SampleImage("val-00000.jpg")])
        { RedirectStandardError = true, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(1, p.ExitCode);
        var lines = err.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Single(lines);
        Assert.StartsWith("error: OpenCV's native runtime (libOpenCvSharpExtern) cannot be loaded:", lines[0]);
        Assert.Contains("install libgtk-3-0", lines[0]);
    }
}
