using Spectre.Console;
using StreamAnalyzer.Pipeline.Checkpoints;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>Runs a command body and turns the errors users can cause into one clear line and a non-zero exit.</summary>
internal static class CommandRunner
{
    public const int Failure = 1;

    public static async Task<int> RunAsync(Func<CancellationToken, Task<int>> body, CancellationToken cancellationToken)
    {
        try
        {
            return await body(cancellationToken);
        }
        catch (Exception e) when (e is CheckpointException or UserInputException or InvalidDataException or FileNotFoundException or DirectoryNotFoundException)
        {
            return Fail(e.Message);
        }
        catch (IOException e)
        {
            return Fail(e.Message);
        }
        catch (NATS.Client.Core.NatsException e)
        {
            return Fail($"NATS: {e.Message}");
        }
        catch (AggregateException e) when (e.Flatten().InnerExceptions.All(i => i is IOException or UserInputException))
        {
            foreach (var inner in e.Flatten().InnerExceptions.Select(i => i.Message).Distinct()) Console.Error.WriteLine($"error: {inner}");
            return Failure;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            AnsiConsole.MarkupLine("[yellow]stopped[/]");
            return 130;
        }
    }

    public static int Run(Func<int> body) => RunAsync(_ => Task.FromResult(body()), CancellationToken.None).GetAwaiter().GetResult();

    public static int Fail(string message)
    {
        Console.Error.WriteLine($"error: {message}");
        return Failure;
    }
}
