using System.CommandLine;
using StreamAnalyzer.Cluster;

namespace StreamAnalyzer.Cli.Commands;

/// <summary><c>stream-analyzer results</c>: the cluster's frame records from the results stream, as JSON lines.</summary>
internal static class ResultsCommand
{
    public static Command Create()
    {
        var nats = new NatsOptions();
        var camera = new Option<string?>("--camera") { Description = "only this camera's records" };
        var follow = new Option<bool>("--follow", "-f") { Description = "keep printing new records as they arrive (Ctrl+C to stop)" };
        var command = new Command("results", "Print the cluster's frame records (the JSON lines schema plus camera and worker), oldest first") { camera, follow };
        nats.AddTo(command);
        command.SetAction((p, token) => CommandRunner.RunAsync(async _ =>
        {
            // Ctrl+C (or SIGTERM) ends --follow: a normal end, with what was printed flushed.
            using var stop = new CancellationTokenSource();
            void Stop(System.Runtime.InteropServices.PosixSignalContext c)
            {
                c.Cancel = true;
                stop.Cancel();
            }
            using var sigint = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, Stop);
            using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, Stop);
            var cancel = stop.Token;
            string? only = p.GetValue(camera) is { } c ? ClusterLayout.CheckName(c, "camera") : null;
            var stdout = Console.Out;
            try
            {
                await using var cluster = await ClusterConnection.ConnectAsync(nats.Read(p, "stream-analyzer results"), cancel);
                long printed = 0;
                await foreach (var line in ResultReader.ReadAsync(cluster, only, p.GetValue(follow), cancel))
                {
                    await stdout.WriteLineAsync(line);
                    printed++;
                }
                // An empty answer says so (a misspelt camera name printed nothing before).
                if (printed == 0 && !p.GetValue(follow))
                    Console.Error.WriteLine(only is null ? "note: no records are stored" : $"note: no records are stored for camera '{only}'");
            }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested)
            {
            }
            await stdout.FlushAsync(CancellationToken.None);
            return 0;
        }, token));
        return command;
    }
}
