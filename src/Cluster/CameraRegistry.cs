using NATS.Client.KeyValueStore;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Cluster;

/// <summary>The cameras of the cluster, one key per camera in <see cref="ClusterLayout.CamerasBucket"/>.</summary>
public sealed class CameraRegistry(INatsKVStore bucket)
{
    /// <summary>A camera and the revision of its settings (a change restarts it on its worker).</summary>
    public sealed record Entry(CameraSpec Spec, ulong Revision);

    /// <summary>Adds a camera, or replaces its settings when <paramref name="replace"/>.</summary>
    /// <exception cref="UserInputException">The name is taken and <paramref name="replace"/> is false.</exception>
    public async Task AddAsync(CameraSpec spec, bool replace, CancellationToken cancel = default)
    {
        ClusterLayout.CheckName(spec.Name, "camera");
        var bytes = ClusterJson.Bytes(spec);
        if (replace)
        {
            await bucket.PutAsync(spec.Name, bytes, cancellationToken: cancel);
            return;
        }
        var created = await bucket.TryCreateAsync(spec.Name, bytes, cancellationToken: cancel);
        if (created.Success) return;
        if (created.Error is NatsKVCreateException)
            throw new UserInputException($"camera '{spec.Name}' exists already (remove it first, or add it again with --replace)");
        throw created.Error;
    }

    /// <summary>Removes a camera; its worker stops it within seconds.</summary>
    /// <returns>False when there was no such camera.</returns>
    public async Task<bool> RemoveAsync(string name, CancellationToken cancel = default)
    {
        var existing = await bucket.TryGetEntryAsync<byte[]>(name, cancellationToken: cancel);
        if (!existing.Success) return false;
        await bucket.DeleteAsync(name, cancellationToken: cancel);
        return true;
    }

    /// <summary>Every camera, by name.</summary>
    public async Task<SortedDictionary<string, Entry>> ListAsync(CancellationToken cancel = default)
    {
        var values = await KeyValueSnapshot.ReadAsync<CameraSpec>(bucket, cancel);
        return new SortedDictionary<string, Entry>(values.ToDictionary(kv => kv.Key, kv => new Entry(kv.Value.Value, kv.Value.Entry.Revision)), StringComparer.Ordinal);
    }
}
