using System.Collections.Concurrent;
using NATS.Client.JetStream;
using NATS.Client.KeyValueStore;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Sources;

namespace StreamAnalyzer.Cluster;

/// <summary>
/// A worker: claims cameras with leases (up to its fair share of the cameras over the live workers, and
/// <see cref="WorkerOptions.MaxStreams"/>), runs each through the pipeline and publishes every frame's record. Its
/// leases are renewed by a loop of their own, so that starting or stopping cameras never delays a renewal; cameras that
/// were removed, changed, taken over or failed are stopped in the background and released once their outputs are
/// finished. On stop it finishes every camera's outputs, publishes what is queued and releases its leases.
/// </summary>
public sealed class Worker(ClusterConnection cluster, WorkerOptions options)
{
    private readonly ConcurrentDictionary<string, CameraRun> _runs = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Task, bool> _stops = new();
    private readonly DateTimeOffset _started = DateTimeOffset.UtcNow;
    private Action<string> Log => options.Log ?? (_ => { });
    private TimeSpan _leaseTime = options.LeaseTime;
    // When a NATS request of this worker last failed (ticks as UTC). After an outage the leases of every worker may
    // have lapsed together (a leader being elected takes seconds); their holders renew them first.
    private long _lastFailure = DateTimeOffset.MinValue.UtcTicks;

    /// <summary>Runs until <paramref name="stop"/>, then hands its cameras back.</summary>
    /// <exception cref="UserInputException">Another live worker has the same name, or the cluster does not answer.</exception>
    public async Task RunAsync(CancellationToken stop)
    {
        var leaseBucket = await cluster.LeasesAsync(options.LeaseTime, stop);
        var leases = new LeaseTable(leaseBucket, options.Name);
        var workers = await cluster.WorkersAsync(options.LeaseTime, stop);
        var results = await cluster.ResultsAsync(stop);
        // The lease time is the bucket's: whoever created it chose it.
        var status = await ClusterConnection.RetryAsync(() => leaseBucket.GetStatusAsync(stop), "the lease bucket", stop);
        if (status.Info.Config.MaxAge is { } maxAge && maxAge > TimeSpan.Zero && maxAge != options.LeaseTime)
        {
            Log($"the cluster's lease time is {maxAge.TotalSeconds:0.#} s (set when its buckets were made); --lease-time {options.LeaseTime.TotalSeconds:0.#} is not used");
            _leaseTime = maxAge;
        }
        var same = await ClusterConnection.RetryAsync(() => workers.TryGetEntryAsync<byte[]>(options.Name, cancellationToken: stop), "the worker reports", stop);
        if (same.Success && ClusterJson.Read<WorkerReport>(same.Value.Value) is { } other && (other.Host != Environment.MachineName || other.Pid != Environment.ProcessId))
        {
            // A report left by a worker of this name on this machine whose process has ended (killed, or crashed) and
            // that has not been rewritten for a few ticks (a live worker rewrites it every tick; a pid alone may not tell,
            // e.g. in a container of the same host name) is stale.
            bool stale = other.Host == Environment.MachineName && !IsRunning(other.Pid) && DateTimeOffset.UtcNow - same.Value.Created > 3 * options.Tick;
            if (!stale)
                throw new UserInputException($"worker name '{options.Name}' is in use by {other.Host} (pid {other.Pid}); give this one another --name");
            Log($"worker {options.Name}: its last run on this machine (pid {other.Pid}) has ended without signing off; taking over its name");
        }

        // Live copies of the three buckets: a tick reads them without a request.
        await using var cameraMirror = new BucketMirror<CameraSpec>(await cluster.CamerasAsync(stop));
        await using var leaseMirror = new BucketMirror<Lease>(leaseBucket);
        await using var workerMirror = new BucketMirror<WorkerReport>(workers);
        try
        {
            await Task.WhenAll(cameraMirror.ReadyAsync(stop), leaseMirror.ReadyAsync(stop), workerMirror.ReadyAsync(stop)).WaitAsync(TimeSpan.FromSeconds(60), stop);
        }
        catch (TimeoutException)
        {
            throw new UserInputException($"NATS at {cluster.Options.Url} did not return the cluster's buckets within 60 s");
        }

        // The report first: from then on another worker of this name is refused.
        await ReportAsync(workers, stop);
        Log($"worker {options.Name}: joined {cluster.Options.Url}" + (options.MaxStreams > 0 ? $" (at most {options.MaxStreams} cameras)" : ""));
        // Renewals go on until every camera has been released, after the stop.
        using var ticks = new CancellationTokenSource();
        var renewals = Task.Run(() => RenewLoopAsync(leases, ticks.Token));
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
                    var cameras = new SortedDictionary<string, CameraRegistry.Entry>(
                        cameraMirror.Items.ToDictionary(kv => kv.Key, kv => new CameraRegistry.Entry(kv.Value.Value, kv.Value.Revision)), StringComparer.Ordinal);
                    StopRemovedAndFailed(cameras, leases);
                    // A lease or report unwritten for a lease time has expired (the bucket drops it without a trace).
                    var fresh = DateTimeOffset.UtcNow - _leaseTime;
                    var held = leaseMirror.Items.Where(kv => kv.Value.Seen > fresh).Select(kv => kv.Key).ToHashSet(StringComparer.Ordinal);
                    int live = Math.Max(1, workerMirror.Items.Count(kv => kv.Value.Seen > fresh || kv.Key == options.Name));
                    // File cameras read to their end (as the workers report them) need no worker: the share is of the others.
                    // Each counted once, and only as reported by the worker holding its lease.
                    int finished = workerMirror.Items.Where(kv => kv.Value.Seen > fresh || kv.Key == options.Name)
                        .SelectMany(kv => kv.Value.Value.Cameras.Where(c => c.State == "finished").Select(c => (Camera: c.Camera, Worker: kv.Key)))
                        .Where(c => cameras.ContainsKey(c.Camera) && held.Contains(c.Camera) && leaseMirror.Items.TryGetValue(c.Camera, out var lease) && lease.Value.Worker == c.Worker)
                        .Select(c => c.Camera).Distinct().Count();
                    int share = (Math.Max(0, cameras.Count - finished) + live - 1) / live;
                    int limit = options.MaxStreams > 0 ? Math.Min(options.MaxStreams, share) : share;
                    // Leases and reports that lapsed during an outage say nothing of who is alive: for a lease time
                    // after one, this worker leaves lapsed cameras to their holders (who claim them again) and keeps
                    // its own.
                    if (SinceLastFailure() > _leaseTime)
                    {
                        await ClaimAsync(cameras, held, limit, leases, results, stop);
                        overShareSince = Rebalance(limit, overShareSince, leases);
                    }
                    await ReportAsync(workers, stop);
                    if (!reachable) Log($"NATS reachable again (cameras whose leases lapsed are left to their holders for {_leaseTime.TotalSeconds:0.#} s)");
                    reachable = true;
                }
                catch (Exception e) when (!stop.IsCancellationRequested)
                {
                    NoteFailure();
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
            await ShutdownAsync(leases, workers, ticks, renewals);
        }
    }

    // Every tick, each held lease is renewed; a lease that went to another worker stops its camera at once, its
    // queued results dropped (the new holder numbers its frames from what was stored).
    private async Task RenewLoopAsync(LeaseTable leases, CancellationToken cancel)
    {
        try
        {
            await RenewEveryTickAsync(leases, cancel);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
        }
    }

    private async Task RenewEveryTickAsync(LeaseTable leases, CancellationToken cancel)
    {
        while (!cancel.IsCancellationRequested)
        {
            foreach (var run in _runs.Values)
            {
                if (run.LeaseLost) continue;
                await run.LeaseLock.WaitAsync(cancel);
                try
                {
                    // Released (or given up) while this waited: renewing it now would claim the camera back.
                    if (run.LeaseLost || !_runs.ContainsKey(run.Name)) continue;
                    // A deadline of its own, so that one request lost with a server does not delay the other renewals.
                    using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancel);
                    deadline.CancelAfter(_leaseTime / 3);
                    var (outcome, revision) = await leases.RenewAsync(run.Name, run.LeaseRevision, run.Since, deadline.Token);
                    if (outcome != LeaseTable.Renewal.Lost)
                    {
                        if (outcome == LeaseTable.Renewal.Reclaimed) Log($"{run.Name}: its lease lapsed while NATS was out of reach; claimed again");
                        run.LeaseRevision = revision;
                        continue;
                    }
                    run.LeaseLost = true;
                }
                catch (Exception e) when (!cancel.IsCancellationRequested)
                {
                    _ = e; // out of reach: tried again next tick; the camera goes on meanwhile
                    NoteFailure();
                    continue;
                }
                finally
                {
                    run.LeaseLock.Release();
                }
                Log($"{run.Name}: another worker holds it now (our lease expired): stopping here");
                BeginStop(run, leases, abandonResults: true);
            }
            // A publisher that found another worker's records on its subject stops its camera too.
            foreach (var run in _runs.Values.Where(r => r.Publisher.Superseded && r.Stopping is null))
            {
                run.LeaseLost = true;
                BeginStop(run, leases, abandonResults: true);
            }
            await Task.Delay(options.Tick, cancel);
        }
    }

    // A camera being stopped, or a file camera that has finished (its lease kept, so that no worker takes it up again
    // only to find no frames left), does not count against this worker's share: live cameras are not moved for it.
    private static bool TakesASlot(CameraRun run) => run.Stopping is null && !run.Finished;

    private void NoteFailure() => Interlocked.Exchange(ref _lastFailure, DateTimeOffset.UtcNow.UtcTicks);

    private TimeSpan SinceLastFailure() => DateTimeOffset.UtcNow - new DateTimeOffset(Interlocked.Read(ref _lastFailure), TimeSpan.Zero);

    private void StopRemovedAndFailed(SortedDictionary<string, CameraRegistry.Entry> cameras, LeaseTable leases)
    {
        foreach (var run in _runs.Values)
        {
            if (run.Stopping is not null) continue;
            bool removed = !cameras.TryGetValue(run.Name, out var now);
            bool changed = !removed && now!.Revision != run.Camera.Revision;
            bool failed = run.Ended && run.Failed && DateTimeOffset.UtcNow - run.Since > TimeSpan.FromSeconds(15);
            if (!removed && !changed && !failed) continue;
            Log($"{run.Name}: {(removed ? "removed: stopping" : changed ? "settings changed: restarting" : "failed: releasing it to try again")}");
            BeginStop(run, leases, abandonResults: false);
        }
    }

    // Stops a camera in the background (its lease still renewed meanwhile), then releases its lease and forgets it.
    private void BeginStop(CameraRun run, LeaseTable leases, bool abandonResults)
    {
        var stopping = run.BeginStop(async () =>
        {
            try
            {
                await run.StopAsync(abandonResults, TimeSpan.FromSeconds(5));
                if (!run.LeaseLost) await ReleaseAsync(run, leases);
                _runs.TryRemove(run.Name, out _);
                await run.DisposeAsync();
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _runs.TryRemove(run.Name, out _);
                Log($"{run.Name}: stopping failed: {e.Message}");
            }
        });
        if (stopping is null) return; // already stopping
        _stops[stopping] = true;
        stopping.ContinueWith(t => _stops.TryRemove(t, out _), TaskScheduler.Default);
    }

    private async Task ReleaseAsync(CameraRun run, LeaseTable leases)
    {
        using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await run.LeaseLock.WaitAsync(CancellationToken.None);
        try
        {
            await leases.ReleaseAsync(run.Name, run.LeaseRevision, bounded.Token);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Log($"{run.Name}: could not release the lease ({e.Message}); it expires by itself");
        }
        finally
        {
            run.LeaseLost = true; // released, or left to expire: nothing more to renew
            run.LeaseLock.Release();
        }
    }

    private async Task ClaimAsync(SortedDictionary<string, CameraRegistry.Entry> cameras, HashSet<string> held, int limit,
        LeaseTable leases, INatsJSStream results, CancellationToken cancel)
    {
        int running = _runs.Values.Count(TakesASlot);
        if (running >= limit) return;
        var free = cameras.Keys.Where(c => !held.Contains(c) && !_runs.ContainsKey(c)).ToList();
        if (free.Count == 0) return;
        // Workers start their search at different cameras, so that they rarely race for the same one.
        int start = (int)((uint)StableHash(options.Name) % (uint)free.Count);
        foreach (var name in free.Skip(start).Concat(free.Take(start)))
        {
            if (running >= limit) break;
            if (await leases.TryClaimAsync(name, cancel) is not ulong revision) continue;
            StoredResult? last;
            try
            {
                last = await StoredResult.LastAsync(results, name, cancel);
            }
            catch
            {
                await leases.ReleaseAsync(name, revision, CancellationToken.None);
                throw;
            }
            var publisher = new ResultPublisher(cluster.JetStream, results, name, StreamAddress.Redacted(cameras[name].Spec.Source), options.Name, last?.Sequence ?? 0, Log);
            long first = last is null ? 0 : last.Frame + 1;
            _runs[name] = new CameraRun(cameras[name], revision, first, last, publisher, options.OutputFolder, Log);
            running++;
            Log($"{name}: claimed" + (last is null ? "" : $", going on from frame {first}"));
        }
    }

    private DateTimeOffset? Rebalance(int limit, DateTimeOffset? overShareSince, LeaseTable leases)
    {
        var running = _runs.Values.Where(TakesASlot).ToList();
        if (running.Count <= limit) return null;
        var now = DateTimeOffset.UtcNow;
        if (overShareSince is null) return now;
        if (now - overShareSince < options.RebalanceAfter) return overShareSince;
        // More than our share for a while (a worker joined, or cameras were removed): hand the newest camera over.
        var newest = running.MaxBy(r => r.Since)!;
        Log($"{newest.Name}: handing over ({running.Count} cameras here, share {limit})");
        BeginStop(newest, leases, abandonResults: false);
        return null;
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

    private async Task ShutdownAsync(LeaseTable leases, INatsKVStore workers, CancellationTokenSource ticks, Task renewals)
    {
        if (!_runs.IsEmpty) Log($"worker {options.Name}: stopping {_runs.Count} camera(s), finishing their outputs and releasing them");
        // Leases stay renewed while the outputs are finished; each is released as soon as its camera is done.
        foreach (var run in _runs.Values) BeginStop(run, leases, abandonResults: run.LeaseLost);
        await Task.WhenAll(_stops.Keys.ToArray());
        await ticks.CancelAsync();
        await renewals;
        try
        {
            using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await workers.DeleteAsync(options.Name, cancellationToken: bounded.Token);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Out of reach: the report expires by itself.
        }
        Log($"worker {options.Name}: stopped");
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false; // no such process
        }
        catch (InvalidOperationException)
        {
            return false;
        }
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
