using System.Diagnostics;
using StreamAnalyzer.Pipeline.Tests.Support;
using static StreamAnalyzer.Cli.Tests.ChildProcesses;
using static StreamAnalyzer.Cli.Tests.Media;

namespace StreamAnalyzer.Cli.Tests;

/// <summary>
/// A camera: a publisher looping the demo clip into a mount of its own on the loopback RTSP server (only our own
/// processes are stopped). One server serves every camera of the test run: rtsp-server-perl binds its source RTP
/// ports from 20000 whatever it is told, so two servers at once fail with "Address already in use".
/// </summary>
public sealed class RtspCamera : IDisposable
{
    private static readonly Lazy<(Process Server, int ClientPort, int SourcePort)> Server = new(StartServer);
    private static int _cameras;
    private readonly string _path = $"cam{Interlocked.Increment(ref _cameras)}";
    private Process? _publisher;

    public RtspCamera()
    {
        _ = Server.Value;
        StartPublisher();
    }

    // A busy machine can take seconds to start the Perl server: publishers connect only once both ports accept
    // connections, and a server that exits (a port taken by something else) is retried on other ports.
    private static (Process, int, int) StartServer()
    {
        for (int attempt = 1; ; attempt++)
        {
            int basePort = 40000 + Random.Shared.Next(0, 4000) * 2;
            var server = Start("rtsp-server-perl", "-c", basePort.ToString(), "-s", (basePort + 1).ToString(),
                "--client_listen_address", "127.0.0.1", "--source_listen_address", "127.0.0.1");
            var deadline = DateTime.UtcNow.AddSeconds(30);
            while (!server.HasExited && DateTime.UtcNow < deadline && !(Accepts(basePort) && Accepts(basePort + 1)))
                Thread.Sleep(200);
            if (!server.HasExited && Accepts(basePort) && Accepts(basePort + 1))
            {
                AppDomain.CurrentDomain.ProcessExit += (_, _) => Stop(server);
                return (server, basePort, basePort + 1);
            }
            Stop(server);
            if (attempt == 3)
                throw new InvalidOperationException($"the RTSP test server did not listen on 127.0.0.1 after 3 tries; it said:\n{string.Join("\n", Output.TakeLast(30))}");
        }
    }

    public int ClientPort => Server.Value.ClientPort;

    public string Url => $"rtsp://127.0.0.1:{ClientPort}/{_path}";

    // On a busy machine the publisher can take a while: a client must be able to read the stream before a test
    // relies on it, and a publisher that gave up (its connection refused) is started again.
    private void WaitUntilPlaying()
    {
        var deadline = DateTime.UtcNow.AddSeconds(40);
        while (DateTime.UtcNow < deadline)
        {
            if (_publisher is { HasExited: true })
            {
                _publisher.Dispose();
                _publisher = StartPublisherProcess();
                Thread.Sleep(1000);
            }
            var psi = new ProcessStartInfo("ffprobe", ["-v", "quiet", "-show_entries", "stream=codec_name", "-of", "csv=p=0", Url])
                { RedirectStandardOutput = true, UseShellExecute = false };
            using var probe = Process.Start(psi)!;
            var output = probe.StandardOutput.ReadToEndAsync();
            if (!probe.WaitForExit(10000))
            {
                probe.Kill();
                probe.WaitForExit();
                continue;
            }
            if (probe.ExitCode == 0 && output.Result.Trim().Length > 0) return;
            Thread.Sleep(500);
        }
        throw new InvalidOperationException($"{Url} did not start playing within 40 s; server and publisher said:\n{string.Join("\n", Output.TakeLast(30))}");
    }

    public void StartPublisher()
    {
        _publisher = StartPublisherProcess();
        Thread.Sleep(2000);
        WaitUntilPlaying();
    }

    private Process StartPublisherProcess() =>
        Start("ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i",
            Fixtures.DemoClip, "-c", "copy", "-f", "rtsp", $"rtsp://127.0.0.1:{Server.Value.SourcePort}/{_path}");

    /// <summary>Stops the publisher as a camera going away does (SIGTERM: it tears its session down).</summary>
    public void StopPublisher()
    {
        if (_publisher is null) return;
        using (var term = Process.Start("kill", ["-s", "TERM", _publisher.Id.ToString()])) term.WaitForExit();
        if (!_publisher.WaitForExit(5000)) Stop(_publisher);
        _publisher.Dispose();
        _publisher = null;
    }

    public void Dispose() => StopPublisher();
}
