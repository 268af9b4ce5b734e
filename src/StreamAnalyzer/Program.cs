using System.CommandLine;
using StreamAnalyzer.Cli.Commands;

var root = new RootCommand("StreamAnalyzer: YOLO detections (YOLOv7, YOLOv5, YOLOv8, YOLO11) and what the detector looks at, on images, files and live streams")
{
    InfoCommand.Create(),
    ForwardCommand.Create(),
    DetectCommand.Create(),
    ExplainCommand.Create(),
    BenchCommand.Create(),
    RunCommand.Create(),
};
try
{
    if (args.Length > 0 && args[0] == "run") args = ["run", .. ConfigFile.Merge(root.Subcommands.First(c => c.Name == "run"), args[1..])];
}
catch (StreamAnalyzer.Pipeline.Runtime.UserInputException e)
{
    return CommandRunner.Fail(e.Message);
}
// `run` handles SIGINT/SIGTERM itself (it finishes the video files); System.CommandLine must not exit first.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
