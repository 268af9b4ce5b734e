using StreamAnalyzer.Pipeline.Numpy;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Cli.Tests.Commands;

/// <summary>`info` and `forward` as a user runs them.</summary>
public class InfoAndForwardCommandTests
{
    [SkippableFact]
    public void InfoListsClassesStridesAndTheLayersFeedingTheHead()
    {
        var r = CliProcess.Run("info", "--weights", Fixtures.ShapesModel);
        Assert.Equal(0, r.ExitCode);
        Assert.Contains("circle, square, triangle", r.StdOut);
        Assert.Contains("strides      8, 16, 32", r.StdOut);
        Assert.Contains("IDetect", r.StdOut);
        // yolov7-tiny's head inputs are layers 74, 75, 76 (P3, P4, P5).
        Assert.Matches(@"74\s.*P3 \(explain here\)", r.StdOut);
        Assert.Matches(@"76\s.*P5 \(explain here\)", r.StdOut);
    }

    [SkippableFact]
    public void ForwardWritesUpstreamsPredictionForTheSameInput()
    {
        using var dir = new TempDirectory();
        string output = dir.File("pred.npy");
        var r = CliProcess.Run("forward", "--weights", Fixtures.Require("yolov7", "yolov7-w25-deploy-random.pt"),
            "--input", Fixtures.Require("yolov7", "yolov7-w25-deploy-random__horses_320_auto.input.npy"), "--output", output);
        Assert.Equal(0, r.ExitCode);
        var ours = NpyArray.Read(output);
        var upstream = NpyArray.Read(Fixtures.Require("yolov7", "yolov7-w25-deploy-random__horses_320_auto.output.npy"));
        Assert.Equal(upstream.Shape, ours.Shape);
        Assert.True(ours.Data.Zip(upstream.Data).Max(p => Math.Abs(p.First - p.Second)) < 5e-3);
    }

    [SkippableFact]
    public void ForwardRefusesAnInputWhoseSidesAreNotMultiplesOfTheStride()
    {
        using var dir = new TempDirectory();
        string input = dir.File("odd.npy");
        NpyArray.Write(input, new float[3 * 100 * 64], [1, 3, 100, 64]);
        var r = CliProcess.Run("forward", "--weights", Fixtures.Require("yolov7", "yolov7-tiny-random.pt"), "--input", input, "--output", dir.File("o.npy"));
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("must be multiples of the model stride 32", r.StdErr);
        Assert.DoesNotContain("   at ", r.All); // no stack trace
    }

    [Fact]
    public void ABadCheckpointIsOneLineOnStandardErrorAndExitCodeOne()
    {
        using var dir = new TempDirectory();
        string weights = dir.File("bad.pt");
        File.WriteAllText(weights, "not a model");
        var r = CliProcess.Run("info", "--weights", weights);
        Assert.Equal(1, r.ExitCode);
        Assert.Equal($"error: {weights}: not a PyTorch checkpoint: the file is not a zip archive", r.StdErr.Trim());
    }

    [Fact]
    public void AMissingRequiredOptionIsAUsageError()
    {
        var r = CliProcess.Run("forward");
        Assert.NotEqual(0, r.ExitCode);
        Assert.Contains("--weights", r.All);
    }
}
