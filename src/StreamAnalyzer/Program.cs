using System.CommandLine;
using StreamAnalyzer.Cli.Commands;

var root = new RootCommand("StreamAnalyzer: YOLOv7 detections and what the detector looks at, on images, files and live streams")
{
    InfoCommand.Create(),
    ForwardCommand.Create(),
    DetectCommand.Create(),
    ExplainCommand.Create(),
    BenchCommand.Create(),
};
return await root.Parse(args).InvokeAsync();
