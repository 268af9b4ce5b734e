using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;

namespace StreamAnalyzer.Cluster;

/// <summary>Reads the results stream in stored order: one camera's subject or all, to the end or following new records.</summary>
public static class ResultReader
{
    /// <summary>Every stored record (JSON text), oldest first; with <paramref name="follow"/> it goes on with new ones.</summary>
    public static async IAsyncEnumerable<string> ReadAsync(ClusterConnection cluster, string? camera, bool follow,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancel = default)
    {
        await cluster.ResultsAsync(cancel);
        string subject = camera is null ? ClusterLayout.ResultsPrefix + ".>" : ClusterLayout.ResultsSubject(camera);
        if (!follow)
        {
            var info = await cluster.JetStream.GetStreamAsync(ClusterLayout.ResultsStream, new StreamInfoRequest { SubjectsFilter = subject }, cancel);
            if ((info.Info.State.Subjects?.Values.Sum(n => (long)n) ?? 0) == 0) yield break;
        }
        var consumer = await cluster.JetStream.CreateOrderedConsumerAsync(ClusterLayout.ResultsStream,
            new NatsJSOrderedConsumerOpts { FilterSubjects = [subject], DeliverPolicy = ConsumerConfigDeliverPolicy.All }, cancel);
        await foreach (var msg in consumer.ConsumeAsync<byte[]>(cancellationToken: cancel))
        {
            if (msg.Data is { } data) yield return System.Text.Encoding.UTF8.GetString(data);
            if (!follow && msg.Metadata is { NumPending: 0 }) yield break;
        }
    }
}
