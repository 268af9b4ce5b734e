using System.CommandLine;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>Options shared by several commands, named as in yolov7's detect.py.</summary>
internal static class CommonOptions
{
    public static Option<FileInfo> Weights() => new("--weights", "-w")
    {
        Description = "YOLOv7 checkpoint (.pt), as released upstream or written by its training code",
        Required = true,
    };

    public static Option<string> Device() => new("--device")
    {
        Description = "cpu, cuda or cuda:N",
        DefaultValueFactory = _ => "cpu",
    };

    public static Option<bool> NoFuse() => new("--no-fuse")
    {
        Description = "keep BatchNorm, RepConv branches and implicit layers unfused",
    };
}
