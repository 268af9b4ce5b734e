using NATS.Client.JetStream;
using NATS.Client.JetStream.Models;
using NATS.Client.KeyValueStore;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Cluster;

/// <summary>
/// A worker: claims cameras with leases (up to its fair share of the cameras over the live workers, and
/// <see cref="WorkerOptions.MaxStreams"/>), runs each through the pipeline, publishes every frame's record, renews its
/// leases every tick, stops cameras that were removed or taken over, and reports itself. On stop it finishes every
/// camera's outputs, publishes what is queued and releases its leases.
/// </summary>
public sealed class Worker(ClusterConnection cluster, WorkerOptions options)
{
    private readonly Dictionary<string, CameraRun> _runs = new(StringComparer.Ordinal);
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private Action<string> Log => options.Log ?? (_ => { });

    /// <summary>The cameras running now.</summary>
    public IReadOnlyCollection<string> Cameras => _runs.Keys;

    /// <summary>Runs until <paramref name="stop"/>, then hands its cameras back.</summary>
    /// <exception cref="UserInputException">Another live worker has the same name.</exception>
    public async Task RunAsync(CancellationToken stop)
    {
        var leaseBucket = await cluster.LeasesAsync(options.LeaseTime, stop);
        var leases = new LeaseTable(leaseBucket, options.Name);
        var workers = await cluster.WorkersAsync(options.LeaseTime, stop);
        var results = await cluster.ResultsAsync(stop);
        var same = await ClusterConnection.RetryAsync(() => workers.TryGetEntryAsync<byte[]>(options.Name, cancellationToken: stop), "the worker reports", stop);
        if (same.Success && ClusterJson.Read<WorkerReport>(same.Value.Value) is { } other && (other.Host != Environment.MachineName || other.Pid != Environment.ProcessId))
            throw new UserInputException($"worker name '{options.Name}' is in use by {other.Host} (pid {other.Pid}); give this one another --name");

        // Live copies of the three buckets: a tick reads them without a request.
        await using var cameraMirror = new BucketMirror<CameraSpec>(await cluster.CamerasAsync(stop));
        await using var leaseMirror = new BucketMirror<Lease>(leaseBucket);
        await using var workerMirror = new BucketMirror<WorkerReport>(workers);
        await Task.WhenAll(cameraMirror.ReadyAsync(stop), leaseMirror.ReadyAsync(stop), workerMirror.ReadyAsync(stop)).WaitAsync(TimeSpan.FromSeconds(60), stop);

        Log($"worker {options.Name}: joined {cluster.Options.Url}" + (options.MaxStreams > 0 ? $" (at most {options.MaxStreams} cameras)" : ""));
        await ReportAsync(workers, stop);
        bool reachable = true;
        DateTimeOffset? overShareSince = null;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                // One tick first, so that workers starting together see each other before anyone claims.
                await Task.Delay(options.Tick, stop);
                try
                {
                    await RenewAsync(leases, stop);
                    var cameras = new SortedDictionary<string, CameraRegistry.Entry>(
                        cameraMirror.Items.ToDictionary(kv => kv.Key, kv => new CameraRegistry.Entry(kv.Value.Value, kv.Value.Revision)), StringComparer.Ordinal);
                    await StopRemovedAsync(cameras, leases, stop);
                    // A lease or report unwritten for a lease time has expired (the bucket drops it without a trace).
                    var fresh = DateTimeOffset.UtcNow - options.LeaseTime;
                    var held = leaseMirror.Items.Where(kv => kv.Value.Seen > fresh).Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
                    int live = Math.Max(1, workerMirror.Items.Count(kv => kv.Value.Seen > fresh || kv.Key == options.Name));
                    int share = (cameras.Count + live - 1) / live;
                    int limit = options.MaxStreams > 0 ? Math.Min(options.MaxStreams, share) : share;
                    await ClaimAsync(cameras, held, limit, leases, results, stop);
                    overShareSince = await RebalanceAsync(limit, overShareSince, leases, stop);
                    await ReportAsync(workers, stop);
                    if (!reachable) Log("NATS reachable again");
                    reachable = true;
                }
                catch (Exception e) when (!stop.IsCancellationRequested && e is not UserInputException)
                {
                    if (reachable) Log($"NATS out of reach ({e.Message}): cameras go on, local outputs are kept, results wait");
                    reachable = false;
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        finally
        {
            await ShutdownAsync(leases, workers);
        }
    }

    private async Task RenewAsync(LeaseTable leases, CancellationToken cancel)
    {
        foreach (var run in _runs.Values.ToArray())
        {
            var (outcome, revision) = await leases.RenewAsync(run.Name, run.LeaseRevision, run.Since, cancel);
            if (outcome == LeaseTable.Renewal.Renewed)
            {
                run.LeaseRevision = revision;
                run.Renewed = DateTimeOffset.UtcNow;
                continue;
            }
            Log($"{run.Name}: another worker holds it now (our lease expired): stopping here");
            _runs.Remove(run.Name);
            await run.StopAsync(abandonResults: true, TimeSpan.Zero);
            await run.DisposeAsync();
        }
    }

    private async Task StopRemovedAsync(SortedDictionary<string, CameraRegistry.Entry> cameras, LeaseTable leases, CancellationToken cancel)
    {
        foreach (var run in _runs.Values.ToArray())
        {
            bool removed = !cameras.TryGetValue(run.Name, out var now);
            bool changed = !removed && now!.Revision != run.Camera.Revision;
            bool failed = run.Ended && run.Report().State == "failed" && DateTimeOffset.UtcNow - run.Since > TimeSpan.FromSeconds(15);
            if (!removed && !changed && !failed) continue;
            Log($"{run.Name}: {(removed ? "removed: stopping" : changed ? "settings changed: restarting" : "failed: trying again")}");
            await HandOverAsync(run, leases, cancel);
        }
    }

    private async Task HandOverAsync(CameraRun run, LeaseTable leases, CancellationToken cancel)
    {
        _runs.Remove(run.Name);
        await run.StopAsync(abandonResults: false, TimeSpan.FromSeconds(5));
        await run.DisposeAsync();
        await leases.ReleaseAsync(run.Name, run.LeaseRevision, cancel);
    }

    private async Task ClaimAsync(SortedDictionary<string, CameraRegistry.Entry> cameras, HashSet<string> held, int limit,
        LeaseTable leases, INatsJSStream results, CancellationToken cancel)
    {
        if (_runs.Count >= limit) return;
        var free = cameras.Keys.Where(c => !held.Contains(c) && !_runs.ContainsKey(c)).ToList();
        if (free.Count == 0) return;
        // Workers start their search at different cameras, so that they rarely race for the same one.
        int start = (int)((uint)StableHash(options.Name) % (uint)free.Count);
        foreach (var name in free.Skip(start).Concat(free.Take(start)))
        {
            if (_runs.Count >= limit) break;
            if (await leases.TryClaimAsync(name, cancel) is not ulong revision) continue;
            long first;
            try
            {
                first = await ClusterConnection.RetryAsync(() => new ValueTask<long>(LastFrameAsync(results, name, cancel)), $"{name}'s last result", cancel) + 1;
            }
            catch
            {
                await leases.ReleaseAsync(name, revision, CancellationToken.None);
                throw;
            }
            var publisher = new ResultPublisher(cluster.JetStream, name, cameras[name].Spec.Source, options.Name, Log);
            _runs[name] = new CameraRun(cameras[name], revision, first, publisher, options.OutputFolder, Log);
            Log($"{name}: claimed" + (first > 0 ? $", going on from frame {first}" : ""));
        }
    }

    private async Task<DateTimeOffset?> RebalanceAsync(int limit, DateTimeOffset? overShareSince, LeaseTable leases, CancellationToken cancel)
    {
        if (_runs.Count <= limit) return null;
        var now = DateTimeOffset.UtcNow;
        if (overShareSince is null) return now;
        if (now - overShareSince < options.RebalanceAfter) return overShareSince;
        // More than our share for a while (a worker joined, or cameras were removed): hand the newest camera over.
        var newest = _runs.Values.MaxBy(r => r.Since)!;
        Log($"{newest.Name}: handing over ({_runs.Count} cameras here, share {limit})");
        await HandOverAsync(newest, leases, cancel);
        return null;
    }

    /// <summary>The number of the last frame stored for <paramref name="camera"/>, or -1.</summary>
    public static async Task<long> LastFrameAsync(INatsJSStream results, string camera, CancellationToken cancel)
    {
        try
        {
            var last = await results.GetAsync(new StreamMsgGetRequest { LastBySubj = ClusterLayout.ResultsSubject(camera) }, cancel);
            using var json = System.Text.Json.JsonDocument.Parse(last.Message.Data);
            return json.RootElement.GetProperty("frame").GetInt64();
        }
        catch (NatsJSApiException e) when (e.Error.Code == 404)
        {
            return -1;
        }
    }

    private Task ReportAsync(INatsKVStore workers, CancellationToken cancel)
    {
        var report = new WorkerReport
        {
            Worker = options.Name, Host = Environment.MachineName, Pid = Environment.ProcessId, MaxStreams = options.MaxStreams,
            Started = _started, Reported = DateTimeOffset.UtcNow,
            Cameras = _runs.Values.OrderBy(r => r.Name, StringComparer.Ordinal).Select(r => r.Report()).ToArray(),
        };
        return workers.PutAsync(options.Name, ClusterJson.Bytes(report), cancellationToken: cancel).AsTask();
    }

    private async Task ShutdownAsync(LeaseTable leases, INatsKVStore workers)
    {
        if (_runs.Count > 0) Log($"worker {options.Name}: stopping {_runs.Count} camera(s), finishing their outputs and releasing them");
        using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await Task.WhenAll(_runs.Values.ToArray().Select(async run =>
        {
            await run.StopAsync(abandonResults: false, TimeSpan.FromSeconds(5));
            try
            {
                await leases.ReleaseAsync(run.Name, run.LeaseRevision, bounded.Token);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Log($"{run.Name}: could not release the lease ({e.Message}); it expires by itself");
            }
            await run.DisposeAsync();
        }));
        _runs.Clear();
        try
        {
            await workers.DeleteAsync(options.Name, cancellationToken: bounded.Token);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Out of reach: the report expires by itself.
        }
        Log($"worker {options.Name}: stopped");
    }

    private static int StableHash(string s)
    {
        unchecked
        {
            int h = 17;
            foreach (char c in s) h = h * 31 + c;
            return h;
        }
    }
}
