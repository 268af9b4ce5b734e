using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace StreamAnalyzer.Cluster;

/// <summary>The last record stored for a camera: its frame number and time, who published it, and its stream sequence.</summary>
/// <param name="Frame">The frame number.</param>
/// <param name="Worker">The worker that published it.</param>
/// <param name="Sequence">Its sequence in the results stream.</param>
/// <param name="TimestampMs">The frame's timestamp (<c>timestamp_ms</c>).</param>
/// <param name="StoredAt">When the stream stored it (the server's clock).</param>
public sealed record StoredResult(long Frame, string? Worker, ulong Sequence, double TimestampMs, DateTimeOffset StoredAt)
{
    /// <summary>
    /// When the camera's timeline was at 0, as this record tells it: the next holder's live timestamps count from there
    /// (and never below <see cref="TimestampMs"/>, whatever the two machines' clocks say).
    /// </summary>
    public DateTimeOffset TimelineOrigin => StoredAt - TimeSpan.FromMilliseconds(TimestampMs);

    /// <summary>The last record on <paramref name="camera"/>'s subject, or null when none is stored.</summary>
    public static async Task<StoredResult?> LastAsync(INatsJSStream results, string camera, CancellationToken cancel)
    {
        try
        {
            var last = await results.GetAsync(new StreamMsgGetRequest { LastBySubj = ClusterLayout.ResultsSubject(camera) }, cancel);
            using var json = System.Text.Json.JsonDocument.Parse(last.Message.Data);
            var root = json.RootElement;
            return new StoredResult(root.GetProperty("frame").GetInt64(), root.TryGetProperty("worker", out var w) ? w.GetString() : null, last.Message.Seq,
                root.TryGetProperty("timestamp_ms", out var t) ? t.GetDouble() : 0, last.Message.Time);
        }
        catch (NatsJSApiException e) when (e.Error.Code == 404)
        {
            return null;
        }
    }
}
