namespace StreamAnalyzer.Cli.Tests;

/// <summary>
/// The tests that run live streams (RTSP cameras, the window under Xvfb, the web view) run one at a time: they share
/// the RTSP server, and real-time streams on two cores measure the machine's load as much as the code when they overlap.
/// </summary>
public static class LiveStreams
{
    public const string Collection = "live streams";
}
