using System.Globalization;
using Spectre.Console;
using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>Shows a run's progress: a live bar (frames, fps, ETA) on a terminal, a status line every few seconds otherwise.</summary>
internal static class ProgressDisplay
{
    public static async Task FollowAsync(Task run, PipelineStatistics stats, IReadOnlyList<string> names)
    {
        if (stats.ExpectedFrames is null && names.Count > 0)
        {
            // Live streams have no end: a status line per source every 5 s.
            var last = new Dictionary<int, long>();
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (!run.IsCompleted)
            {
                await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(5)));
                if (run.IsCompleted) break;
                double seconds = clock.Elapsed.TotalSeconds;
                clock.Restart();
                var parts = stats.Sources.OrderBy(kv => kv.Key).Select(kv =>
                {
                    long done = kv.Value.Processed, before = last.GetValueOrDefault(kv.Key);
                    last[kv.Key] = done;
                    string state = kv.Value.State switch
                    {
                        SourceState.Reconnecting => "reconnecting, ",
                        SourceState.Failed => "failed, ",
                        SourceState.Connecting => "connecting, ",
                        _ => "",
                    };
                    return string.Create(CultureInfo.InvariantCulture,
                        $"{names[kv.Key]}: {state}{(done - before) / seconds:0.0} fps, dropped {kv.Value.Dropped}, reconnects {kv.Value.Reconnects}");
                });
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"live: latency {stats.RecentLatencyMs:0} ms; ") + string.Join("; ", parts));
            }
            return;
        }
        if (AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected)
        {
            await AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new RemainingTimeColumn(), new SpinnerColumn())
                .StartAsync(async ctx =>
                {
                    var task = ctx.AddTask("frames", maxValue: stats.ExpectedFrames ?? 1);
                    task.IsIndeterminate = stats.ExpectedFrames is null;
                    while (!run.IsCompleted)
                    {
                        task.Value = stats.Processed;
                        task.Description = Describe(stats);
                        await Task.WhenAny(run, Task.Delay(250));
                    }
                    task.Value = stats.ExpectedFrames ?? stats.Processed;
                    task.Description = Describe(stats);
                    task.StopTask();
                });
            return;
        }
        while (!run.IsCompleted)
        {
            await Task.WhenAny(run, Task.Delay(TimeSpan.FromSeconds(2)));
            if (!run.IsCompleted) Console.WriteLine(Describe(stats));
        }
    }

    private static string Describe(PipelineStatistics s)
    {
        string frames = s.ExpectedFrames is long n ? $"{s.Processed}/{n}" : s.Processed.ToString(CultureInfo.InvariantCulture);
        string eta = s.ExpectedFrames is long total && s.Fps > 0
            ? $", ETA {TimeSpan.FromSeconds(Math.Max(0, total - s.Processed) / s.Fps):mm\\:ss}" : "";
        return string.Create(CultureInfo.InvariantCulture,
            $"frames {frames}, {s.Fps:0.0} fps, latency {s.RecentLatencyMs:0} ms, explained {s.Explained}{eta}");
    }
}
