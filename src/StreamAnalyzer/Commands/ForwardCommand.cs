using System.CommandLine;
using StreamAnalyzer.Pipeline.Model;
using TorchSharp;
using StreamAnalyzer.Pipeline.Numpy;
using StreamAnalyzer.Pipeline.Runtime;
using static TorchSharp.torch;

namespace StreamAnalyzer.Cli.Commands;

/// <summary><c>stream-analyzer forward</c>: the raw model on a NumPy tensor, for checking parity on any checkpoint.</summary>
internal static class ForwardCommand
{
    public static Command Create()
    {
        var weights = CommonOptions.Weights();
        var input = new Option<FileInfo>("--input", "-i") { Description = "input tensor (.npy, float32, shape (B, 3, H, W), RGB in [0, 1])", Required = true };
        var output = new Option<FileInfo>("--output", "-o") { Description = "where to write the raw prediction (.npy float32): (B, N, 5 + classes) for YOLOv5/YOLOv7, (B, 4 + classes, N) for Ultralytics", Required = true };
        var noFuse = CommonOptions.NoFuse();
        var device = CommonOptions.Device();
        var tf32 = CommonOptions.Tf32();
        var command = new Command("forward", "Run the raw model on a NumPy tensor and write the family's upstream inference output, as it is")
        {
            weights, input, output, noFuse, device, tf32,
        };
        command.SetAction(parse => CommandRunner.Run(() => Execute(parse.GetValue(weights)!, parse.GetValue(input)!,
            parse.GetValue(output)!, !parse.GetValue(noFuse), parse.GetValue(device), parse.GetValue(tf32))));
        return command;
    }

    private static int Execute(FileInfo weights, FileInfo inputFile, FileInfo outputFile, bool fuse, string? deviceName, bool tf32)
    {
        if (!inputFile.Exists) throw new UserInputException($"{inputFile.FullName}: file not found");
        var device = CommonOptions.ResolveDevice(deviceName, tf32);
        var array = NpyArray.Read(inputFile.FullName);
        using var model = YoloModel.Load(weights.FullName, fuse);
        if (array.Shape.Length != 4 || array.Shape[1] != 3)
            throw new UserInputException($"{inputFile.FullName}: expected shape (B, 3, H, W), got ({string.Join(", ", array.Shape)})");
        if (array.Shape[2] % model.MaxStride != 0 || array.Shape[3] % model.MaxStride != 0)
            throw new UserInputException($"{inputFile.FullName}: height and width ({array.Shape[2]}x{array.Shape[3]}) must be multiples of the model stride {model.MaxStride}");
        model.to(device);

        using var scope = NewDisposeScope();
        using var mode = inference_mode();
        var pred = model.ToUpstreamLayout(model.forward(tensor(array.Data, array.Shape).to(device))).cpu();
        if (outputFile.Directory is { Exists: false } dir) dir.Create();
        NpyArray.Write(outputFile.FullName, pred.data<float>().ToArray(), pred.shape);
        Console.WriteLine($"wrote {outputFile.FullName}: ({string.Join(", ", pred.shape)})");
        return 0;
    }
}
