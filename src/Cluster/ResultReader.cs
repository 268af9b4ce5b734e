using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace StreamAnalyzer.Cluster;

/// <summary>Reads the results stream in stored order: one camera's subject or all, to the end or following new records.</summary>
public static class ResultReader
{
    /// <summary>Every stored record (JSON text), oldest first; with <paramref name="follow"/> it goes on with new ones.</summary>
    /// <remarks>
    /// Record by record with "the next message on this subject from sequence N" requests: no consumer to lose when a
    /// server restarts (nats-server 2.9 also lacks the filtered consumer creation the client uses), and nothing skipped
    /// or printed twice when a request has to be sent again.
    /// </remarks>
    public static async IAsyncEnumerable<string> ReadAsync(ClusterConnection cluster, string? camera, bool follow,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancel = default)
    {
        var stream = await cluster.ResultsAsync(cancel);
        string subject = camera is null ? ClusterLayout.ResultsPrefix + ".>" : ClusterLayout.ResultsSubject(camera);
        // Without --follow: the records stored when the command started, so that it ends while workers publish.
        ulong end = ulong.MaxValue;
        if (!follow)
        {
            var info = await ClusterConnection.RetryAsync(
                () => cluster.JetStream.GetStreamAsync(ClusterLayout.ResultsStream, new StreamInfoRequest { SubjectsFilter = subject }, cancel), "the results stream", cancel);
            if ((info.Info.State.Subjects?.Values.Sum() ?? 0) == 0) yield break;
            end = info.Info.State.LastSeq;
        }
        ulong next = 1;
        while (next <= end)
        {
            StreamMsgGetResponse? found;
            try
            {
                found = await stream.GetAsync(new StreamMsgGetRequest { Seq = next, NextBySubj = subject }, cancel);
            }
            catch (NatsJSApiException e) when (e.Error.Code == 404)
            {
                found = null; // nothing (yet) at or after `next`
            }
            catch (Exception e) when (!cancel.IsCancellationRequested && ClusterConnection.IsTransient(e))
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500), cancel);
                continue;
            }
            if (found is null)
            {
                if (!follow) yield break;
                await Task.Delay(TimeSpan.FromMilliseconds(200), cancel);
                continue;
            }
            if (found.Message.Seq > end) yield break;
            next = found.Message.Seq + 1;
            yield return System.Text.Encoding.UTF8.GetString(found.Message.Data.Span);
        }
    }
}
