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

    /// <summary>Starts the program in the background (for runs a test talks to while they go on).</summary>
    public static Running Start(IReadOnlyDictionary<string, string>? environment, params string[] args) => new(environment, args);

    /// <summary>A program running in the background; its output is collected line by line.</summary>
    public sealed class Running : IDisposable
    {
        private readonly Process _process;
        private readonly System.Collections.Concurrent.ConcurrentQueue<string> _stderr = new(), _stdout = new();

        internal Running(IReadOnlyDictionary<string, string>? environment, string[] args)
        {
            var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var (k, v) in environment ?? new Dictionary<string, string>()) psi.Environment[k] = v;
            psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "stream-analyzer.dll"));
            foreach (var a in args) psi.ArgumentList.Add(a);
            _process = Process.Start(psi)!;
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) _stderr.Enqueue(e.Data); };
            _process.OutputDataReceived += (_, e) => { if (e.Data is not null) _stdout.Enqueue(e.Data); };
            _process.BeginErrorReadLine();
            _process.BeginOutputReadLine();
        }

        public string StdErr => string.Join("\n", _stderr);

        public string StdOut => string.Join("\n", _stdout);

        public bool HasExited => _process.HasExited;

        public int ExitCode => _process.ExitCode;

        /// <summary>The first match of <paramref name="pattern"/> in stderr, waiting up to <paramref name="timeout"/>.</summary>
        public System.Text.RegularExpressions.Match WaitForError(string pattern, TimeSpan timeout)
        {
            var regex = new System.Text.RegularExpressions.Regex(pattern);
            var deadline = DateTime.UtcNow + timeout;
            while (DateTime.UtcNow < deadline)
            {
                foreach (var line in _stderr)
                    if (regex.Match(line) is { Success: true } m) return m;
                if (_process.HasExited) break;
                Thread.Sleep(100);
            }
            throw new TimeoutException($"stderr never matched /{pattern}/ (exited: {_process.HasExited}):\n{StdErr}");
        }

        /// <summary>Kills the program as a crash or a lost machine does (SIGKILL: nothing is finished).</summary>
        public void Kill()
        {
            using (var kill = Process.Start("kill", ["-s", "KILL", _process.Id.ToString()])) kill.WaitForExit();
            _process.WaitForExit();
        }

        /// <summary>Sends SIGTERM (a service manager stopping it) and waits for the exit code.</summary>
        public int Terminate(TimeSpan timeout)
        {
            using (var term = Process.Start("kill", ["-s", "TERM", _process.Id.ToString()])) term.WaitForExit();
            if (!_process.WaitForExit(timeout)) throw new TimeoutException("the program did not end after SIGTERM:\n" + StdErr);
            _process.WaitForExit();
            return _process.ExitCode;
        }

        /// <summary>Sends SIGINT (Ctrl+C) and waits for the exit code.</summary>
        public int Interrupt(TimeSpan timeout)
        {
            using (var kill = Process.Start("kill", ["-s", "INT", _process.Id.ToString()])) kill.WaitForExit();
            if (!_process.WaitForExit(timeout)) throw new TimeoutException("the run did not end after SIGINT:\n" + StdErr);
            _process.WaitForExit();
            return _process.ExitCode;
        }

        public void Dispose()
        {
            try
            {
                if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
            }
            _process.WaitForExit(5000);
            _process.Dispose();
        }
    }
}
