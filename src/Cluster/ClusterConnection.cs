using NATS.Client.Core;
using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Client.KeyValueStore;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Cluster;

/// <summary>
/// A connection to the NATS cluster with the buckets and the results stream the cluster uses, created on first use
/// (replicated over up to three servers) and opened as they are afterwards.
/// </summary>
public sealed class ClusterConnection : IAsyncDisposable
{
    private ClusterConnection(NatsConnection connection, ClusterOptions options)
    {
        Connection = connection;
        Options = options;
        JetStream = new NatsJSContext(connection);
        KeyValue = new NatsKVContext(JetStream);
    }

    /// <summary>The client connection.</summary>
    public NatsConnection Connection { get; }

    /// <summary>What it was opened with.</summary>
    public ClusterOptions Options { get; }

    /// <summary>JetStream.</summary>
    public INatsJSContext JetStream { get; }

    /// <summary>The key-value store.</summary>
    public INatsKVContext KeyValue { get; }

    /// <summary>Connects, or fails with a message that names the URL and what went wrong.</summary>
    /// <exception cref="UserInputException">No server answered, the credentials were refused, or TLS failed.</exception>
    public static async Task<ClusterConnection> ConnectAsync(ClusterOptions options, CancellationToken cancel = default)
    {
        var connection = new NatsConnection(options.ToNatsOpts());
        try
        {
            await connection.ConnectAsync().AsTask().WaitAsync(options.ConnectTimeout + TimeSpan.FromSeconds(5), cancel);
            if (connection.ServerInfo is { JetStreamAvailable: false })
                throw new UserInputException($"NATS at {options.Url} has no JetStream: start nats-server with -js (or jetstream in its config)");
            return new ClusterConnection(connection, options);
        }
        catch (Exception e) when (e is NatsException or TimeoutException or IOException or System.Security.Authentication.AuthenticationException)
        {
            await connection.DisposeAsync();
            throw new UserInputException($"cannot connect to NATS at {options.Url}: {Describe(e)}");
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    private static string Describe(Exception e)
    {
        var messages = new List<string>();
        for (var x = e; x is not null; x = x.InnerException)
            if (!messages.Contains(x.Message)) messages.Add(x.Message);
        return string.Join(": ", messages);
    }

    /// <summary>Copies kept of each bucket and of the results stream: as asked, else one per server up to three.</summary>
    /// <remarks>The server's INFO lists the client URLs of every server of its cluster, its own included.</remarks>
    public int Replicas => Options.Replicas > 0 ? Options.Replicas
        : Math.Clamp(Connection.ServerInfo?.ClientConnectUrls?.Where(u => !string.IsNullOrEmpty(u)).Distinct().Count() ?? 1, 1, 3);

    /// <summary>The camera settings bucket.</summary>
    public ValueTask<INatsKVStore> CamerasAsync(CancellationToken cancel = default) =>
        BucketAsync(new NatsKVConfig(ClusterLayout.CamerasBucket) { History = 5, Description = "stream-analyzer cameras" }, cancel);

    /// <summary>The lease bucket (entries live <paramref name="leaseTime"/> unless renewed; set by whoever creates it).</summary>
    public ValueTask<INatsKVStore> LeasesAsync(TimeSpan leaseTime, CancellationToken cancel = default) =>
        BucketAsync(new NatsKVConfig(ClusterLayout.LeasesBucket) { MaxAge = leaseTime, Description = "stream-analyzer camera leases" }, cancel);

    /// <summary>The worker report bucket (reports live <paramref name="leaseTime"/> unless refreshed).</summary>
    public ValueTask<INatsKVStore> WorkersAsync(TimeSpan leaseTime, CancellationToken cancel = default) =>
        BucketAsync(new NatsKVConfig(ClusterLayout.WorkersBucket) { MaxAge = leaseTime, Description = "stream-analyzer workers" }, cancel);

    /// <summary>An existing bucket, or null (for readers, which must not make a bucket with settings of their own).</summary>
    public ValueTask<INatsKVStore?> ExistingBucketAsync(string bucket, CancellationToken cancel = default) =>
        RetryAsync(async () =>
        {
            try
            {
                return await KeyValue.GetStoreAsync(bucket, cancel);
            }
            catch (NatsJSApiException e) when (e.Error.Code == 404)
            {
                return (INatsKVStore?)null;
            }
        }, $"bucket {bucket}", cancel);

    private ValueTask<INatsKVStore> BucketAsync(NatsKVConfig config, CancellationToken cancel) =>
        RetryAsync(() => OpenBucketAsync(config, cancel), $"bucket {config.Bucket}", cancel);

    /// <summary>
    /// Runs a JetStream request again while the cluster cannot answer yet (no reply, a leader being elected after a
    /// start or a lost node), up to 30 s; then fails with a clear message.
    /// </summary>
    public static async ValueTask<T> RetryAsync<T>(Func<ValueTask<T>> request, string what, CancellationToken cancel)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                return await request();
            }
            catch (Exception e) when (IsTransient(e) && !cancel.IsCancellationRequested)
            {
                if (DateTime.UtcNow > deadline) throw new UserInputException($"NATS JetStream did not answer for {what} within 30 s: {e.Message}");
                await Task.Delay(TimeSpan.FromMilliseconds(Math.Min(2000, 200 * attempt)), cancel);
            }
        }
    }

    /// <summary>True for errors that pass once the cluster settles (no reply yet, JetStream temporarily unavailable).</summary>
    public static bool IsTransient(Exception e) =>
        e is NatsNoReplyException or NatsNoRespondersException or TimeoutException or NatsJSApiNoResponseException
        || (e is NatsJSApiException api && api.Error.Code is 503 or 408 or 500);

    private async ValueTask<INatsKVStore> OpenBucketAsync(NatsKVConfig config, CancellationToken cancel)
    {
        try
        {
            return await KeyValue.GetStoreAsync(config.Bucket, cancel);
        }
        catch (NatsJSApiException e) when (e.Error.Code == 404)
        {
            try
            {
                return await KeyValue.CreateStoreAsync(config with { NumberOfReplicas = Replicas, Storage = NatsKVStorageType.File }, cancel);
            }
            catch (NatsJSApiException) // made by another client meanwhile
            {
                return await KeyValue.GetStoreAsync(config.Bucket, cancel);
            }
        }
    }

    /// <summary>The results stream: one subject per camera, duplicates (same message id) dropped for two minutes.</summary>
    public ValueTask<INatsJSStream> ResultsAsync(CancellationToken cancel = default) => RetryAsync(() => OpenResultsAsync(cancel), "the results stream", cancel);

    private async ValueTask<INatsJSStream> OpenResultsAsync(CancellationToken cancel)
    {
        try
        {
            return await JetStream.GetStreamAsync(ClusterLayout.ResultsStream, cancellationToken: cancel);
        }
        catch (NatsJSApiException e) when (e.Error.Code == 404)
        {
            var config = new StreamConfig(ClusterLayout.ResultsStream, [ClusterLayout.ResultsPrefix + ".>"])
            {
                NumReplicas = Replicas,
                Storage = StreamConfigStorage.File,
                DuplicateWindow = TimeSpan.FromMinutes(2),
                MaxAge = Options.ResultsRetention,
                AllowDirect = true,
                Description = "stream-analyzer: one JSON record per analysed frame",
            };
            try
            {
                return await JetStream.CreateStreamAsync(config, cancel);
            }
            catch (NatsJSApiException)
            {
                return await JetStream.GetStreamAsync(ClusterLayout.ResultsStream, cancellationToken: cancel);
            }
        }
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync() => Connection.DisposeAsync();
}
