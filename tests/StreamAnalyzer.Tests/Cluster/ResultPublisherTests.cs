using NATS.Client.JetStream;
using OpenCvSharp;
using StreamAnalyzer.Cluster;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Sinks;
using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.Cli.Tests.Cluster;

/// <summary>The result publisher against a real single-node nats-server.</summary>
public class ResultPublisherTests
{
    /// <summary>
    /// A publish whose first try was stored but whose acknowledgement never came back (NATS restarted in between) is
    /// retried; the stream answers "duplicate". That copy is stored, so the publisher goes on with the next record
    /// instead of retrying it for ever (the CI run that found this retried "Duplicate of 21" for over a minute).
    /// </summary>
    [SkippableFact]
    public async Task ARetryWhoseFirstTryWasStoredCountsAsStored()
    {
        using var nats = new NatsCluster(1);
        await using var connection = await ClusterConnection.ConnectAsync(new ClusterOptions(nats.Url));
        var results = await connection.ResultsAsync();
        const string camera = "door", worker = "solo", source = "test.mp4";

        // Frame 0 arrived with its message id; the publisher never heard back, so it still expects an empty subject.
        using (var first = Analyzed(0))
        {
            var json = ResultPublisher.Record(FrameRecord.From(source, first), camera, worker).ToJsonString();
            var ack = await connection.JetStream.PublishAsync(ClusterLayout.ResultsSubject(camera), System.Text.Encoding.UTF8.GetBytes(json),
                opts: new NatsJSPubOpts { MsgId = ClusterLayout.MessageId(camera, 0) });
            Assert.False(ack.Duplicate);
        }

        var publisher = new ResultPublisher(connection.JetStream, results, camera, source, worker, lastSequence: 0);
        for (int frame = 0; frame < 3; frame++)
        {
            using var analyzed = Analyzed(frame);
            publisher.Write(analyzed);
        }
        Assert.True(await publisher.DrainAsync(TimeSpan.FromSeconds(30)), $"records still waiting after 30 s: {publisher.Pending}");
        Assert.False(publisher.Superseded);
        Assert.Equal(2, publisher.Published);

        var last = await StoredResult.LastAsync(results, camera, CancellationToken.None);
        Assert.NotNull(last);
        Assert.Equal(2, last.Frame);
        Assert.Equal(3ul, last.Sequence);
    }

    private static AnalyzedFrame Analyzed(long index)
    {
        var geometry = new LetterboxGeometry(8, 8, 8, 8, 1, 0, 0, 8, 8);
        return new AnalyzedFrame(new Frame(new Mat(8, 8, MatType.CV_8UC3, Scalar.All(0)), 0, index, index * 40.0),
            new DetectionResult([], geometry, new StageTimings(0, 0, 0)), explained: false);
    }
}
