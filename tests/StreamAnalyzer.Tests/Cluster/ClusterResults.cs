using System.Text.Json;

namespace StreamAnalyzer.Cli.Tests.Cluster;

/// <summary>The results stream as `stream-analyzer results` prints it, parsed.</summary>
public static class ClusterResults
{
    public sealed record Item(string Camera, long Frame, string Worker, int Detections, double TimestampMs);

    /// <summary>Every record, in stored order (read with the program's own `results` command).</summary>
    public static List<Item> Read(string url, string? camera = null)
    {
        var args = new List<string> { "results", "--nats", url };
        if (camera is not null) args.AddRange(["--camera", camera]);
        var r = CliProcess.Run(TimeSpan.FromMinutes(2), [.. args]);
        Assert.True(r.ExitCode == 0, $"results failed ({r.ExitCode}): {r.All}");
        return r.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(Parse).ToList();
    }

    public static Item Parse(string line)
    {
        using var json = JsonDocument.Parse(line);
        var root = json.RootElement;
        return new Item(root.GetProperty("camera").GetString()!, root.GetProperty("frame").GetInt64(), root.GetProperty("worker").GetString()!,
            root.GetProperty("detections").GetArrayLength(), root.GetProperty("timestamp_ms").GetDouble());
    }

    /// <summary>
    /// Per camera: frames and their times strictly increasing in stored order (so no (camera, frame) pair twice, and a
    /// camera's timeline goes on when another worker takes it over).
    /// </summary>
    public static void AssertOrderedWithoutDuplicates(IEnumerable<Item> items)
    {
        foreach (var camera in items.GroupBy(i => i.Camera))
        {
            long previous = -1;
            double previousTime = double.NegativeInfinity;
            foreach (var item in camera)
            {
                Assert.True(item.Frame > previous, $"{camera.Key}: frame {item.Frame} (from {item.Worker}) stored after frame {previous}");
                Assert.True(item.TimestampMs > previousTime, $"{camera.Key}: frame {item.Frame} (from {item.Worker}) at {item.TimestampMs} ms, after {previousTime} ms");
                previous = item.Frame;
                previousTime = item.TimestampMs;
            }
        }
    }
}
