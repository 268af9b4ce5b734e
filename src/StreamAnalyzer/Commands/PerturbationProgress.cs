using Spectre.Console;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>
/// The share done of the perturbed images being scored, and a display of it that appears only when work takes more
/// than a moment: a bar on a terminal, a line every few seconds otherwise.
/// </summary>
internal sealed class PerturbationProgress : IProgress<double>
{
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(1.5);
    private double _value;

    /// <summary>The last share reported, 0 to 1.</summary>
    public double Value => Volatile.Read(ref _value);

    public void Report(double value) => Volatile.Write(ref _value, value);

    /// <summary>Runs <paramref name="work"/>, showing this progress under <paramref name="description"/> once it has taken 1.5 s.</summary>
    public T Follow<T>(string description, Func<T> work)
    {
        Report(0);
        var task = Task.Run(work);
        if (task.Wait(Quiet)) return task.GetAwaiter().GetResult();
        if (AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected)
        {
            AnsiConsole.Progress().AutoClear(true)
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new SpinnerColumn())
                .Start(ctx =>
                {
                    var bar = ctx.AddTask(Markup.Escape(description), maxValue: 1);
                    while (!task.Wait(200)) bar.Value = Value;
                    bar.Value = 1;
                });
        }
        else
        {
            while (!task.Wait(TimeSpan.FromSeconds(5))) Console.Error.WriteLine($"{description}: {Value:P0} of the current map's perturbed images scored");
        }
        return task.GetAwaiter().GetResult();
    }
}
