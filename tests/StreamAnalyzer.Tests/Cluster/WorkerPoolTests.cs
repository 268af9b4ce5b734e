using System.Diagnostics;
using System.Text.Json;
using StreamAnalyzer.Pipeline.Tests.Support;
using static StreamAnalyzer.Cli.Tests.Media;

namespace StreamAnalyzer.Cli.Tests.Cluster;

/// <summary>
/// The worker pool with the real thing on loopback: a three-node nats-server cluster with JetStream, worker processes
/// and RTSP cameras. A worker killed, a NATS node lost, cameras added and removed while running: per camera, records
/// before and after each event, in order, with no (camera, frame) pair twice.
/// </summary>
[Collection(LiveStreams.Collection)]
public class WorkerPoolTests
{
    internal const int LeaseSeconds = 6;
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(90);

    [SkippableFact]
    public async Task CamerasMoveOffAKilledWorkerAndResultsSurviveALostNatsNode()
    {
        Need("nats-server", "rtsp-server-perl", "ffmpeg", "ffprobe");
        using var nats = new NatsCluster(3);
        await using var probe = new ClusterProbe(nats.Url, TimeSpan.FromSeconds(LeaseSeconds));
        var cameras = Enumerable.Range(1, 7).Select(_ => new RtspCamera()).ToArray();
        var workers = new List<CliProcess.Running>();
        using var output = new TempDirectory();
        string Logs() => string.Join("\n---\n", workers.Select(w => w.StdErr));
        try
        {
            for (int i = 0; i < 6; i++) AddCamera(nats.Url, $"cam{i + 1}", cameras[i].Url);
            foreach (var name in new[] { "wa", "wb", "wc" }) workers.Add(StartWorker(nats.Url, name, output.Path));

            // All six running, two per worker (each worker's fair share).
            Eventually(() => probe.Leases() is var l && l.Count == 6 && l.Values.GroupBy(w => w).All(g => g.Count() == 2) && l.Values.Distinct().Count() == 3,
                "six cameras held, two by each worker", Logs);
            var counts = WaitForNewRecords(probe, probe.Counts(), Cameras(1, 6), "at the start", Logs);

            // A worker killed: its cameras resume on the others within the lease time and a few seconds.
            var victims = probe.Leases().Where(kv => kv.Value == "wa").Select(kv => kv.Key).ToArray();
            Assert.Equal(2, victims.Length);
            var killedAt = Stopwatch.StartNew();
            workers[0].Kill();
            var stored = probe.Counts();
            Eventually(() => probe.Leases() is var l && victims.All(v => l.TryGetValue(v, out var w) && w != "wa"), "the killed worker's cameras claimed by the others", Logs);
            double claimed = killedAt.Elapsed.TotalSeconds;
            Eventually(() => probe.Counts() is var c && victims.All(v => c.GetValueOrDefault(v) > stored.GetValueOrDefault(v)), "the killed worker's cameras publishing again", Logs);
            double resumed = killedAt.Elapsed.TotalSeconds;
            Console.WriteLine($"the killed worker's cameras: claimed after {claimed:0.0} s, results again after {resumed:0.0} s (lease {LeaseSeconds} s)");
            Assert.True(resumed < LeaseSeconds + 20, $"the killed worker's cameras resumed after {resumed:0.0} s\n{Logs()}");
            counts = WaitForNewRecords(probe, counts, Cameras(1, 6), "after the kill", Logs);

            // A NATS node lost - the one leading the lease bucket, so that every lease lapses while a leader is elected:
            // the holders keep their cameras, results keep flowing, and none the workers published is lost (checked at
            // the end).
            string leader = probe.LeaseLeader();
            Console.WriteLine($"stopping {leader}, the lease bucket's leader");
            nats.Kill(nats.IndexOf(leader));
            counts = WaitForNewRecords(probe, counts, Cameras(1, 6), "after a NATS node was stopped", Logs);

            // Cameras added and removed while running.
            AddCamera(nats.Url, "cam7", cameras[6].Url);
            var removed = CliProcess.Run("cameras", "remove", "cam1", "--nats", nats.Url);
            Assert.True(removed.ExitCode == 0, removed.All);
            Eventually(() => probe.Leases() is var l && !l.ContainsKey("cam1") && l.ContainsKey("cam7"), "cam1 stopped and released, cam7 claimed", Logs);
            int cam1Final = probe.Counts().GetValueOrDefault("cam1");
            counts = WaitForNewRecords(probe, counts, Cameras(2, 7), "after cam7 was added and cam1 removed", Logs);
            Assert.Equal(cam1Final, probe.Counts().GetValueOrDefault("cam1"));

            // Graceful stop: outputs finished, every lease released at once.
            foreach (var w in workers.Skip(1)) Assert.Equal(0, w.Terminate(TimeSpan.FromSeconds(60)));
            Eventually(() => probe.Leases().Count == 0, "every lease released", Logs);

            var all = ClusterResults.Read(nats.Url);
            ClusterResults.AssertOrderedWithoutDuplicates(all);
            var cam2 = ClusterResults.Read(nats.Url, "cam2");
            Assert.All(cam2, i => Assert.Equal("cam2", i.Camera));
            Assert.Equal(all.Count(i => i.Camera == "cam2"), cam2.Count);
            Assert.All(counts.Keys, c => Assert.True(all.Count(i => i.Camera == c) >= counts[c]));
            // Nothing lost: every frame the two gracefully stopped workers wrote locally is in the stream, from them.
            var keys = all.Select(i => (i.Camera, i.Frame, i.Worker)).ToHashSet();
            int compared = 0;
            var missing = new List<(string Worker, string Camera, long Frame)>();
            foreach (var file in Directory.EnumerateFiles(output.Path, "*.jsonl", SearchOption.AllDirectories))
            {
                string worker = Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(file))!);
                if (worker == "wa") continue; // killed: what it had not published yet is renumbered by the next holder
                string camera = Path.GetFileName(Path.GetDirectoryName(file))!;
                foreach (var line in File.ReadLines(file))
                {
                    using var json = JsonDocument.Parse(line);
                    long frame = json.RootElement.GetProperty("frame").GetInt64();
                    if (!keys.Contains((camera, frame, worker))) missing.Add((worker, camera, frame));
                    compared++;
                }
            }
            Assert.True(missing.Count == 0, MissingReport(missing, all, workers));
            Assert.True(compared > 100, $"only {compared} local records to compare");
            Console.WriteLine($"{all.Count} records in the stream; the {compared} local records of the stopped workers are all in it");
        }
        finally
        {
            foreach (var w in workers) w.Dispose();
            foreach (var c in cameras) c.Dispose();
            Console.WriteLine(Logs());
            Console.WriteLine(string.Join("\n", ChildProcesses.Output.Where(l => l.StartsWith("nats-server")).TakeLast(60)));
        }
    }

    // Which local records are missing, what the stream holds around them, and what the workers said about those cameras.
    private static string MissingReport(List<(string Worker, string Camera, long Frame)> missing, IReadOnlyList<ClusterResults.Item> all, List<CliProcess.Running> workers)
    {
        var lines = new List<string>();
        foreach (var g in missing.GroupBy(m => (m.Worker, m.Camera)))
        {
            long first = g.Min(m => m.Frame), last = g.Max(m => m.Frame);
            lines.Add($"{g.Key.Camera}: {g.Count()} frame(s) written locally by {g.Key.Worker} are missing from the results stream (frames {first}..{last})");
            var near = all.Where(i => i.Camera == g.Key.Camera && i.Frame >= first - 3 && i.Frame <= last + 3).Select(i => $"{i.Frame}:{i.Worker}");
            lines.Add($"  stored near them: {string.Join(" ", near.Take(40))}");
        }
        var cameras = missing.Select(m => m.Camera).Distinct().ToArray();
        string[] names = ["wa", "wb", "wc"];
        for (int w = 0; w < workers.Count; w++)
        {
            lines.Add($"--- {names[w]}:");
            lines.AddRange(workers[w].StdErr.Split('\n').Where(l => cameras.Any(c => l.Contains(c + ":")) || l.Contains("worker ") || l.Contains("NATS")));
        }
        return string.Join("\n", lines);
    }

    private static string[] Cameras(int first, int last) => Enumerable.Range(first, last - first + 1).Select(i => $"cam{i}").ToArray();

    internal static void AddCamera(string url, string name, string source)
    {
        var r = CliProcess.Run("cameras", "add", name, "--source", source, "--weights", Fixtures.ShapesModel, "--img-size", "160",
            "--cam-every", "10", "--cam-method", "odam", "--layers", "neck", "--top-k", "1", "--nats", url);
        Assert.True(r.ExitCode == 0, $"cameras add {name}: {r.All}");
    }

    internal static CliProcess.Running StartWorker(string url, string name, string output) =>
        CliProcess.Start(null, "worker", "--nats", url, "--name", name, "--lease-time", LeaseSeconds.ToString(), "--output", Path.Combine(output, name));

    /// <summary>Waits until each camera has a few more records than in <paramref name="before"/>; returns the new counts.</summary>
    internal static Dictionary<string, int> WaitForNewRecords(ClusterProbe probe, Dictionary<string, int> before, IEnumerable<string> cameras, string when, Func<string> logs)
    {
        var wanted = cameras.ToArray();
        Dictionary<string, int> now = [];
        Eventually(() =>
        {
            now = probe.Counts();
            return wanted.All(c => now.GetValueOrDefault(c) > before.GetValueOrDefault(c) + 5);
        }, $"new records for {string.Join(", ", wanted)} {when}", () => $"counts {JsonSerializer.Serialize(now)}\n{logs()}");
        return now;
    }

    internal static void Eventually(Func<bool> condition, string what, Func<string> context)
    {
        var deadline = DateTime.UtcNow + Settle;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                if (condition()) return;
            }
            catch (Exception e) when (StreamAnalyzer.Cluster.ClusterConnection.IsTransient(e))
            {
                // A NATS node just went away: ask again.
            }
            Thread.Sleep(250);
        }
        Assert.Fail($"{what}: not within {Settle.TotalSeconds} s\n{context()}");
    }
}
