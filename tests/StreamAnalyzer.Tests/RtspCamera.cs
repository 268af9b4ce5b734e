using System.Diagnostics;
using StreamAnalyzer.Pipeline.Tests.Support;
using static StreamAnalyzer.Cli.Tests.ChildProcesses;
using static StreamAnalyzer.Cli.Tests.Media;

namespace StreamAnalyzer.Cli.Tests;

/// <summary>A loopback RTSP server and a publisher looping the demo clip into it (only our own processes are stopped).</summary>
public sealed class RtspCamera : IDisposable
{
    private readonly Process _server;
    private Process? _publisher;
    private readonly int _sourcePort;

    public RtspCamera()
    {
        int basePort = 20000 + Random.Shared.Next(0, 4000) * 2;
        ClientPort = basePort;
        _sourcePort = basePort + 1;
        _server = Start("rtsp-server-perl", "-c", ClientPort.ToString(), "-s", _sourcePort.ToString(), "--client_listen_address", "127.0.0.1",
            "--source_listen_address", "127.0.0.1", "--rtp_start_port", (30000 + Random.Shared.Next(0, 2000) * 4).ToString());
        Thread.Sleep(1500);
        StartPublisher();
    }

    public int ClientPort { get; }

    public string Url => $"rtsp://127.0.0.1:{ClientPort}/live";

    public void StartPublisher()
    {
        _publisher = Start("ffmpeg", "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i",
            Fixtures.DemoClip, "-c", "copy", "-f", "rtsp", $"rtsp://127.0.0.1:{_sourcePort}/live");
        Thread.Sleep(2000);
    }

    /// <summary>Stops the publisher as a camera going away does (SIGTERM: it tears its session down).</summary>
    public void StopPublisher()
    {
        if (_publisher is null) return;
        using (var term = Process.Start("kill", ["-s", "TERM", _publisher.Id.ToString()])) term.WaitForExit();
        if (!_publisher.WaitForExit(5000)) Stop(_publisher);
        _publisher.Dispose();
        _publisher = null;
    }

    public void Dispose()
    {
        StopPublisher();
        Stop(_server);
    }
}
