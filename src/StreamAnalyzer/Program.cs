using System.CommandLine;
using StreamAnalyzer.Cli.Commands;
using StreamAnalyzer.Pipeline.Runtime;

var root = new RootCommand("StreamAnalyzer: YOLO detections (YOLOv7, YOLOv5, YOLOv8, YOLO11) and what the detector looks at, on images, files and live streams")
{
    InfoCommand.Create(),
    ForwardCommand.Create(),
    DetectCommand.Create(),
    ExplainCommand.Create(),
    BenchCommand.Create(),
    RunCommand.Create(),
    CamerasCommand.Create(),
    WorkerCommand.Create(),
    ResultsCommand.Create(),
    ClusterCommand.Create(),
};
// Before the config file is read: its values are checked by the same options.
ValueParsers.Install(root);
ParseResult parse;
try
{
    if (args.Length > 0 && args[0] == "run") args = ["run", .. ConfigFile.Merge(root.Subcommands.First(c => c.Name == "run"), args[1..])];
    parse = root.Parse(args);
}
catch (UserInputException e)
{
    return CommandRunner.Fail(e.Message);
}
// Bad flags and values: one line each naming the flag, not the whole help text.
if (parse.Errors.Count > 0)
{
    foreach (var message in ParseErrors.Messages(parse)) Console.Error.WriteLine($"error: {message}");
    Console.Error.WriteLine($"(see `stream-analyzer {(parse.CommandResult.Command == root ? "" : parse.CommandResult.Command.Name + " ")}--help`)");
    return CommandRunner.Failure;
}
bool helpOnly = args.Any(a => a is "-h" or "--help" or "-?" or "--version");
if (!helpOnly)
{
    try
    {
        NativeLibraries.Initialise();
    }
    catch (UserInputException e)
    {
        return CommandRunner.Fail(e.Message);
    }
}
// `run` handles SIGINT/SIGTERM itself (it finishes the video files); System.CommandLine must not exit first.
return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null });
