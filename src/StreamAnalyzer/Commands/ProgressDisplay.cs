using System.Globalization;
using Spectre.Console;
using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>Shows a run's progress: a live bar (frames, fps, ETA) on a terminal, a status line every few seconds otherwise.</summary>
internal static class ProgressDisplay
{
    public static async Task FollowAsync(Task run, PipelineStatistics stats)
    {
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
