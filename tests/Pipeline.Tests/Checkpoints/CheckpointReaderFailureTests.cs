using System.Text;
using StreamAnalyzer.Pipeline.Checkpoints;
using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Pipeline.Tests.Checkpoints;

/// <summary>Malformed and hostile checkpoints give a specific error naming the file, and never run anything.</summary>
public class CheckpointReaderFailureTests
{

    private static CheckpointException LoadFails(string path) =>
        Assert.Throws<CheckpointException>(() => { using var _ = YoloModel.Load(path); });

    [Fact]
    public void AFileThatIsNotAZipIsRefusedAsNotACheckpoint()
    {
        using var dir = new TempDirectory();
        var path = dir.File("notes.pt");
        File.WriteAllText(path, "this is not a checkpoint");
        var e = LoadFails(path);
        Assert.Equal(path, e.FilePath);
        Assert.Contains("not a zip archive", e.Message);
    }

    /// <summary>An empty file (an interrupted download) is called empty, not a file of the wrong kind.</summary>
    [Fact]
    public void AnEmptyFileIsCalledEmpty()
    {
        using var dir = new TempDirectory();
        var path = dir.File("empty.pt");
        File.WriteAllBytes(path, []);
        var e = LoadFails(path);
        Assert.Contains("the file is empty (0 bytes)", e.Message);
    }

    [SkippableFact]
    public void ATruncatedCheckpointIsReportedAsDamagedOrTruncated()
    {
        using var dir = new TempDirectory();
        var bytes = File.ReadAllBytes(Fixtures.ShapesModel);
        var path = dir.File("truncated.pt");
        File.WriteAllBytes(path, bytes[..(bytes.Length / 2)]);
        var e = LoadFails(path);
        Assert.Contains("truncated", e.Message);
        Assert.StartsWith(path, e.Message);
    }

    [Fact]
    public void AZipWithoutDataPklIsNotACheckpoint()
    {
        using var dir = new TempDirectory();
        var path = dir.File("empty.pt");
        CheckpointSurgery.WriteArchive(path, new Dictionary<string, byte[]> { ["version"] = "3\n"u8.ToArray() });
        Assert.Contains("no data.pkl", LoadFails(path).Message);
    }

    [Fact]
    public void AGlobalNamingPosixSystemIsRefusedAndNothingRuns()
    {
        using var dir = new TempDirectory();
        string marker = dir.File("pwned");
        // pickle.loads of this would run: posix.system("touch <marker>")
        byte[] pickle =
        [
            0x80, 2,
            (byte)'c', .. "posix\nsystem\n"u8.ToArray(),
            .. CheckpointSurgery.BinUnicode($"touch {marker}"),
            0x85, (byte)'R', (byte)'.',
        ];
        var path = dir.File("hostile.pt");
        CheckpointSurgery.WriteArchive(path, new Dictionary<string, byte[]> { ["data.pkl"] = pickle });

        var e = LoadFails(path);

        Assert.Contains("'posix.system'", e.Message);
        Assert.Contains("refusing", e.Message);
        Assert.False(File.Exists(marker), "the command named in the pickle must not have run");
    }

    [Theory]
    [InlineData("builtins", "eval")]
    [InlineData("subprocess", "Popen")]
    [InlineData("os", "system")]
    [InlineData("torch", "load")]
    public void OtherCallablesAreRefusedByName(string module, string name)
    {
        using var dir = new TempDirectory();
        byte[] pickle = [0x80, 2, (byte)'c', .. Encoding.ASCII.GetBytes($"{module}\n{name}\n"), (byte)')', (byte)'R', (byte)'.'];
        var path = dir.File("hostile.pt");
        CheckpointSurgery.WriteArchive(path, new Dictionary<string, byte[]> { ["data.pkl"] = pickle });
        Assert.Contains($"'{module}.{name}'", LoadFails(path).Message);
    }

    [Fact]
    public void AnUnsupportedOpcodeIsNamedWithItsPosition()
    {
        using var dir = new TempDirectory();
        byte[] pickle = [0x80, 2, (byte)'}', (byte)'i', .. "os\nsystem\n"u8.ToArray(), (byte)'.']; // INST
        var path = dir.File("inst.pt");
        CheckpointSurgery.WriteArchive(path, new Dictionary<string, byte[]> { ["data.pkl"] = pickle });
        var e = LoadFails(path);
        Assert.Contains("unsupported pickle opcode 0x69", e.Message);
        Assert.Contains("byte 3", e.Message);
    }

    [SkippableFact]
    public void AStorageShorterThanItsTensorIsReportedBeforeAnythingIsAllocated()
    {
        using var dir = new TempDirectory();
        var path = dir.File("short.pt");
        bool cut = false;
        CheckpointSurgery.Rewrite(Fixtures.ShapesModel, path, (name, data) =>
        {
            if (cut || !name.Contains("/data/")) return data;
            cut = true;
            return data[..(data.Length / 2)];
        });
        var e = LoadFails(path);
        Assert.Matches(@"storage '.*/data/\d+' holds \d+ bytes but its tensor needs \d+", e.Message);
    }

    [SkippableFact]
    public void AMissingStorageIsNamed()
    {
        using var dir = new TempDirectory();
        var path = dir.File("missing.pt");
        CheckpointSurgery.Rewrite(Fixtures.ShapesModel, path, (name, data) => name.EndsWith("/data/0") ? null : data);
        Assert.Matches(@"storage '.*/data/0' is missing", LoadFails(path).Message);
    }

    [SkippableFact]
    public void AnUnknownModuleInTheArchitectureNamesTheLayer()
    {
        using var dir = new TempDirectory();
        var path = dir.File("c3.pt");
        CheckpointSurgery.Rewrite(Fixtures.ShapesModel, path, (name, data) =>
        {
            if (!name.EndsWith("data.pkl")) return data;
            int yaml = CheckpointSurgery.IndexOf(data, CheckpointSurgery.BinUnicode("yaml"));
            // The first 'Conv' string after the config starts is layer 0's module name.
            return CheckpointSurgery.ReplaceFirst(data, CheckpointSurgery.BinUnicode("Conv"), CheckpointSurgery.BinUnicode("C3"), yaml);
        });
        Assert.Contains("layer 0: module 'C3' is not supported", LoadFails(path).Message);
    }

    [SkippableFact]
    public void AChannelCountThatDisagreesWithTheWeightsIsAShapeMismatch()
    {
        using var dir = new TempDirectory();
        var path = dir.File("wide.pt");
        CheckpointSurgery.Rewrite(Fixtures.ShapesModel, path, (name, data) =>
        {
            if (!name.EndsWith("data.pkl")) return data;
            int yaml = CheckpointSurgery.IndexOf(data, CheckpointSurgery.BinUnicode("backbone"));
            // Layer 0 is [-1, 1, 'Conv', [32, 3, 2, ...]]: make it 48 channels.
            int args = CheckpointSurgery.IndexOf(data, CheckpointSurgery.BinUnicode("Conv"), yaml);
            return CheckpointSurgery.ReplaceFirst(data, [(byte)'K', 32], [(byte)'K', 48], args);
        });
        Assert.Contains("'model.0.conv.weight' has shape (32, 3, 3, 3) in the checkpoint but the module declares (48, 3, 3, 3)", LoadFails(path).Message);
    }

    [SkippableFact]
    public void AStateKeyTheArchitectureDoesNotHaveIsNamed()
    {
        using var dir = new TempDirectory();
        var path = dir.File("renamed.pt");
        CheckpointSurgery.Rewrite(Fixtures.ShapesModel, path, (name, data) => name.EndsWith("data.pkl")
            ? CheckpointSurgery.ReplaceFirst(data, CheckpointSurgery.BinUnicode("running_var"), CheckpointSurgery.BinUnicode("running_vax"))
            : data);
        Assert.Contains("state key 'model.0.bn.running_vax' is not expected by the architecture", LoadFails(path).Message);
    }

    [Fact]
    public void ALegacyNonZipTorchFileGetsAnExplanation()
    {
        using var dir = new TempDirectory();
        var path = dir.File("legacy.pt");
        File.WriteAllBytes(path, [0x80, 2, (byte)'}', (byte)'.']);
        Assert.Contains("legacy (pre-1.6, non-zip)", LoadFails(path).Message);
    }

    [Fact]
    public void AMissingFileIsNamed()
    {
        Assert.Contains("file not found", LoadFails("/nonexistent/yolov7.pt").Message);
    }

    [Fact]
    public void AFolderIsSaidToBeOneAndItsCheckpointsNamed()
    {
        using var dir = new TempDirectory();
        Assert.Equal($"{dir.Path}: is a folder, not a checkpoint file", LoadFails(dir.Path).Message);
        File.WriteAllBytes(dir.File("b.pt"), []);
        File.WriteAllBytes(dir.File("a.pt"), []);
        Assert.Equal($"{dir.Path}: is a folder, not a checkpoint file (it holds a.pt, b.pt)", LoadFails(dir.Path).Message);
    }

    /// <summary>A copy of a fixture whose pickle names <paramref name="replacement"/> where it named <paramref name="original"/> (GLOBAL opcodes).</summary>
    private static string WithGlobal(TempDirectory dir, string folder, string file, string original, string replacement)
    {
        var path = dir.File("hostile-" + file);
        CheckpointSurgery.Rewrite(Fixtures.Require(folder, file), path, (name, data) => name.EndsWith("data.pkl")
            ? CheckpointSurgery.ReplaceFirst(data, Encoding.ASCII.GetBytes("c" + original.Replace(' ', '\n') + "\n"),
                Encoding.ASCII.GetBytes("c" + replacement.Replace(' ', '\n') + "\n"))
            : data);
        return path;
    }

    [SkippableTheory]
    [InlineData("ultralytics", "yolov8n-random.pt", "torch.nn.modules.activation SiLU", "posix system")]
    [InlineData("ultralytics", "yolo11n-random.pt", "ultralytics.nn.modules.block Attention", "builtins exec")]
    [InlineData("ultralytics", "yolov8n-random.pt", "ultralytics.nn.tasks DetectionModel", "ultralytics.nn.tasks yaml_model_load")]
    [InlineData("ultralytics", "yolov8n-random.pt", "ultralytics.nn.modules.block C2f", "ultralytics.utils.checks check_requirements")]
    [InlineData("yolov5", "yolov5n-random.pt", "models.common C3", "os system")]
    [InlineData("yolov5", "yolov5n6-random.pt", "models.yolo Detect", "models.yolo parse_model")]
    [InlineData("yolov5", "yolov5n-random.pt", "models.common SPPF", "subprocess Popen")]
    public void FamilyCheckpointsNamingACallableAreRefusedWithFileOffsetAndName(string folder, string file, string original, string hostile)
    {
        using var dir = new TempDirectory();
        var path = WithGlobal(dir, folder, file, original, hostile);
        var e = LoadFails(path);
        Assert.Equal(path, e.FilePath);
        Assert.Contains($"'{hostile.Replace(' ', '.')}'", e.Message);
        Assert.Matches(@"data\.pkl at byte \d+", e.Message);
        Assert.Contains("nothing was executed", e.Message);
    }

    [SkippableTheory]
    [InlineData("ultralytics", "yolov8n-random.pt", "ultralytics.nn.modules.block SPPF", "models.common SPPF")]
    [InlineData("yolov5", "yolov5n-random.pt", "models.common C3", "ultralytics.nn.modules.block C3")]
    [InlineData("yolov7", "yolov7-tiny-random.pt", "models.common MP", "models.common C3")]
    public void APickleMixingTheClassesOfTwoFamiliesIsRefused(string folder, string file, string original, string foreign)
    {
        using var dir = new TempDirectory();
        var e = LoadFails(WithGlobal(dir, folder, file, original, foreign));
        Assert.Contains("mixes families", e.Message);
        Assert.Matches(@"data\.pkl at byte \d+", e.Message);
    }

    [SkippableFact]
    public void ASegmentationModelIsRefusedAsSuch()
    {
        using var dir = new TempDirectory();
        var e = LoadFails(WithGlobal(dir, "ultralytics", "yolov8n-random.pt", "ultralytics.nn.tasks DetectionModel", "ultralytics.nn.tasks SegmentationModel"));
        Assert.Contains("is a segmentation model; StreamAnalyzer reads detection models only", e.Message);
    }

    [SkippableTheory]
    [InlineData("yolov7", "yolov7-tiny-random.pt")]
    [InlineData("ultralytics", "yolo11n-random.pt")]
    public void BytesFlippedInsideATensorAreCaughtByTheZipChecksum(string folder, string file)
    {
        // The zip entry keeps its old CRC-32: a reader that does not check it loads junk weights silently.
        var source = Fixtures.Require(folder, file);
        byte[] bytes = File.ReadAllBytes(source);
        string entryName;
        byte[] pattern;
        using (var zip = System.IO.Compression.ZipFile.OpenRead(source))
        {
            var largest = zip.Entries.Where(en => en.FullName.Contains("/data/")).MaxBy(en => en.Length)!;
            entryName = largest.FullName;
            using var s = largest.Open();
            var content = new byte[largest.Length];
            s.ReadExactly(content);
            pattern = content[4096..4160];
        }
        int at = CheckpointSurgery.IndexOf(bytes, pattern);
        Assert.True(at > 0, "the storage's bytes are stored uncompressed in the file");
        for (int i = 0; i < 2000; i++) bytes[at + i] ^= 0x5A;
        using var dir = new TempDirectory();
        var path = dir.File("flipped.pt");
        File.WriteAllBytes(path, bytes);

        var e = LoadFails(path);

        Assert.Contains($"'{entryName}' is damaged: its CRC-32 does not match", e.Message);
    }
}
