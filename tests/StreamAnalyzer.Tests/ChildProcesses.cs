using System.Diagnostics;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Cli.Tests;

/// <summary>Helper programs the live tests start (RTSP server, ffmpeg, Xvfb); their output is kept for failure messages.</summary>
public static class ChildProcesses
{
    /// <summary>What the helper processes printed (for failure messages).</summary>
    public static readonly System.Collections.Concurrent.ConcurrentQueue<string> Output = new();

    public static Process Start(string program, params string[] args)
    {
        var psi = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        p.StandardInput.Close(); // no interactive input for ffmpeg or the server
        p.OutputDataReceived += (_, e) => { if (e.Data is not null) Output.Enqueue($"{program}: {e.Data}"); };
        p.ErrorDataReceived += (_, e) => { if (e.Data is not null) Output.Enqueue($"{program}: {e.Data}"); };
        p.BeginOutputReadLine();
        p.BeginErrorReadLine();
        return p;
    }

    /// <summary>True once something listens on the loopback TCP port (a helper server is up).</summary>
    public static bool Accepts(int port)
    {
        try
        {
            using var client = new System.Net.Sockets.TcpClient();
            client.Connect(System.Net.IPAddress.Loopback, port);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    public static void Stop(Process p)
    {
        try { if (!p.HasExited) p.Kill(entireProcessTree: true); } catch (InvalidOperationException) { }
        p.WaitForExit(5000);
        p.Dispose();
    }
}
