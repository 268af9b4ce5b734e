using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using StreamAnalyzer.Cluster;

namespace StreamAnalyzer.Cli.Commands;

/// <summary><c>stream-analyzer worker</c>: one machine of a cluster, running the cameras it holds leases on.</summary>
internal static class WorkerCommand
{
    public static Command Create()
    {
        var nats = new NatsOptions();
        var name = new Option<string?>("--name") { Description = "this worker's unique name (default: host-pid)" };
        var maxStreams = new Option<int>("--max-streams") { Description = "most cameras this worker runs at once (0: its fair share of the cameras)", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var leaseTime = new Option<double>("--lease-time")
        {
            Description = "seconds a camera's lease lives without renewal (a dead worker's cameras move after this); the first worker's choice holds for the cluster",
            DefaultValueFactory = _ => 10,
        }.InRange(2, 3600);
        var output = new Option<string>("--output") { Description = "folder for each camera's local JSON lines and recordings", DefaultValueFactory = _ => Path.Combine("runs", "worker") };
        var command = new Command("worker", "Join a cluster: run the cameras kept in NATS that this worker claims, publish every frame's record to the results stream")
        {
            name, maxStreams, output, leaseTime,
        };
        nats.AddTo(command);
        command.SetAction((p, token) => CommandRunner.RunAsync(async _ =>
        {
            string workerName = ClusterLayout.CheckName(p.GetValue(name) ?? $"{Sanitise(Environment.MachineName)}-{Environment.ProcessId}", "worker");
            using var stop = new CancellationTokenSource();
            void Interrupt(PosixSignalContext c)
            {
                c.Cancel = true;
                if (stop.IsCancellationRequested) Environment.Exit(130);
                Log("stopping: finishing outputs and releasing cameras (again to quit at once)");
                stop.Cancel();
            }
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt);
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt);
            try
            {
                await using var cluster = await ClusterConnection.ConnectAsync(nats.Read(p, $"stream-analyzer worker {workerName}"), stop.Token);
                var worker = new Worker(cluster, new WorkerOptions(workerName)
                {
                    MaxStreams = p.GetValue(maxStreams), OutputFolder = p.GetValue(output)!, LeaseTime = TimeSpan.FromSeconds(p.GetValue(leaseTime)), Log = Log,
                });
                await worker.RunAsync(stop.Token);
                return 0;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return 130; // stopped before it had joined
            }
        }, token));
        return command;
    }

    private static string Sanitise(string host) => new(host.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '-').Take(48).ToArray());

    private static void Log(string message) =>
        Console.Error.WriteLine($"[{DateTime.Now.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}] {message}");
}
