using System.Diagnostics;

namespace StreamAnalyzer.Cli.Tests;

/// <summary>Runs the built <c>stream-analyzer</c> program as a child process and captures what it prints.</summary>
public static class CliProcess
{
    public sealed record Result(int ExitCode, string StdOut, string StdErr)
    {
        public string All => StdOut + StdErr;
    }

    public static Result Run(params string[] args) => Run(TimeSpan.FromMinutes(5), args);

    public static Result Run(TimeSpan timeout, params string[] args) => Run(timeout, null, args);

    public static Result RunWithEnvironment(IReadOnlyDictionary<string, string> environment, params string[] args) =>
        Run(TimeSpan.FromMinutes(5), environment, args);

    private static Result Run(TimeSpan timeout, IReadOnlyDictionary<string, string>? environment, string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "stream-analyzer.dll");
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            throw new TimeoutException($"stream-analyzer {string.Join(' ', args)} did not finish in {timeout}");
        }
        return new Result(p.ExitCode, stdout.Result, stderr.Result);
    }
}
