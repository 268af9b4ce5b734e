using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using StreamAnalyzer.Cluster;

namespace StreamAnalyzer.Cli.Commands;

/// <summary><c>stream-analyzer cluster status</c>: the workers, their cameras, rates, drops and lease ages.</summary>
internal static class ClusterCommand
{
    public static Command Create()
    {
        var nats = new NatsOptions();
        var json = new Option<bool>("--json") { Description = "the whole picture as one JSON object" };
        var status = new Command("status", "Workers, their cameras, fps, drops and lease ages; cameras waiting for a worker") { json };
        nats.AddTo(status);
        status.SetAction((p, token) => CommandRunner.RunAsync(async cancel =>
        {
            await using var cluster = await ClusterConnection.ConnectAsync(nats.Read(p, "stream-analyzer cluster"), cancel);
            var snapshot = await ClusterSnapshot.ReadAsync(cluster, cancel);
            if (p.GetValue(json))
            {
                Console.WriteLine(System.Text.Json.JsonSerializer.Serialize(new
                {
                    workers = snapshot.Workers,
                    leases = snapshot.Leases.ToDictionary(kv => kv.Key, kv => new { worker = kv.Value.Lease.Worker, since = kv.Value.Lease.Since, age_s = Age(snapshot, kv.Value.Renewed) }),
                    unassigned = snapshot.Unassigned,
                }, ClusterJson.Options));
                return 0;
            }
            var table = new Table().Border(TableBorder.Simple).AddColumns("worker", "host (pid)", "camera", "state", "fps", "frames", "dropped", "published", "pending", "lease age");
            foreach (var worker in snapshot.Workers)
            {
                string who = Markup.Escape(worker.Worker), where = Markup.Escape($"{worker.Host} ({worker.Pid})");
                if (worker.Cameras.Count == 0) table.AddRow(who, where, "-", "idle", "", "", "", "", "", "");
                foreach (var c in worker.Cameras)
                {
                    string age = snapshot.Leases.TryGetValue(c.Camera, out var lease) && lease.Lease.Worker == worker.Worker
                        ? $"{Age(snapshot, lease.Renewed).ToString("0.0", CultureInfo.InvariantCulture)} s" : "lost";
                    table.AddRow(who, where, Markup.Escape(c.Camera), Markup.Escape(c.State + (c.Error is null ? "" : $": {c.Error}")),
                        c.Fps.ToString("0.0", CultureInfo.InvariantCulture), N(c.Frames), N(c.Dropped), N(c.Published), N(c.Pending), age);
                    who = where = "";
                }
            }
            if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 200; // a pipe or a log: no terminal width to fit
            AnsiConsole.Write(table);
            Console.WriteLine($"{snapshot.Workers.Count} worker(s), {snapshot.Cameras.Count} camera(s), {snapshot.Leases.Count} held");
            foreach (var camera in snapshot.Unassigned) Console.WriteLine($"waiting for a worker: {camera}");
            return 0;
        }, token));
        return new Command("cluster", "The cluster of workers (see `worker`)") { status };
    }

    private static double Age(ClusterSnapshot snapshot, DateTimeOffset renewed) => Math.Round(Math.Max(0, (snapshot.Taken - renewed).TotalSeconds), 1);

    private static string N(long n) => n.ToString(CultureInfo.InvariantCulture);
}
