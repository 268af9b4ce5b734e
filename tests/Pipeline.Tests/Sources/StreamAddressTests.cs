using StreamAnalyzer.Pipeline.Sources;

namespace StreamAnalyzer.Pipeline.Tests.Sources;

/// <summary>Stream addresses are shown without their password.</summary>
public class StreamAddressTests
{
    [Theory]
    [InlineData("rtsp://admin:hunter2@10.0.0.5:554/stream1", "rtsp://admin:***@10.0.0.5:554/stream1")]
    [InlineData("rtsp://admin:p%40ss@cam/x?user=a:b@c", "rtsp://admin:***@cam/x?user=a:b@c")] // '@' in a password is %40
    [InlineData("rtsp://:secret@cam/x", "rtsp://:***@cam/x")]
    [InlineData("rtsp://admin:P@ssw0rd@10.0.0.5/s", "rtsp://admin:***@10.0.0.5/s")] // ffmpeg takes an unescaped '@' too
    [InlineData("rtsp://admin@cam/x", "rtsp://admin@cam/x")] // a user name alone is kept
    [InlineData("rtsp://cam:554/x", "rtsp://cam:554/x")] // a port is not a password
    [InlineData("http://cam/x.mjpg", "http://cam/x.mjpg")]
    [InlineData("rtsp://a:b@h1/x: Connection refused from rtsp://c:d@h2/y", "rtsp://a:***@h1/x: Connection refused from rtsp://c:***@h2/y")]
    [InlineData("samples/shapes-demo.mp4", "samples/shapes-demo.mp4")]
    public void ThePasswordIsReplacedAndTheRestKept(string text, string shown) => Assert.Equal(shown, StreamAddress.Redacted(text));
}
