using System.Diagnostics;
using System.IO.Compression;
using StreamAnalyzer.Pipeline.Checkpoints;
using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Tests.Support;
using Xunit.Abstractions;

namespace StreamAnalyzer.Pipeline.Tests.Checkpoints;

/// <summary>
/// Checkpoints damaged in every way a file can be - bytes flipped, truncated, zip entries removed or resized,
/// pickle opcodes altered, declared sizes made huge - each end in a clear <see cref="CheckpointException"/> or a
/// model that builds: never another exception, a hang, a native crash (which would end the test run) or managed
/// allocations beyond a few times what the file holds.
/// </summary>
public class CheckpointFuzzTests(ITestOutputHelper output)
{
    private const int Cases = 1020;

    private enum Mutation { FlipBytes, Truncate, RemoveEntry, ResizeEntry, AlterPickle, HugeNumbers }

    private sealed record Source(string Name, byte[] File, IReadOnlyList<(string Name, byte[] Data)> Entries, int PickleIndex);

    private static Source Read(string path)
    {
        var entries = new List<(string, byte[])>();
        using (var zip = ZipFile.OpenRead(path))
        {
            foreach (var e in zip.Entries)
            {
                using var s = e.Open();
                var data = new byte[e.Length];
                s.ReadExactly(data);
                entries.Add((e.FullName, data));
            }
        }
        return new Source(Path.GetFileName(path), File.ReadAllBytes(path), entries, entries.FindIndex(e => e.Item1.EndsWith("data.pkl")));
    }

    private static byte[] Zip(IEnumerable<(string Name, byte[] Data)> entries)
    {
        using var ms = new MemoryStream();
        using (var zip = new ZipArchive(ms, ZipArchiveMode.Create, leaveOpen: true))
        {
            foreach (var (name, data) in entries)
            {
                using var w = zip.CreateEntry(name, CompressionLevel.NoCompression).Open();
                w.Write(data);
            }
        }
        return ms.ToArray();
    }

    private static byte[] Mutate(Source source, Mutation kind, Random rng)
    {
        var entries = source.Entries.ToList();
        switch (kind)
        {
            case Mutation.FlipBytes:
            {
                var bytes = (byte[])source.File.Clone();
                for (int i = rng.Next(1, 65); i > 0; i--) bytes[rng.Next(bytes.Length)] ^= (byte)rng.Next(1, 256);
                return bytes;
            }
            case Mutation.Truncate:
                return source.File[..rng.Next(source.File.Length)];
            case Mutation.RemoveEntry:
                entries.RemoveAt(rng.Next(entries.Count));
                return Zip(entries);
            case Mutation.ResizeEntry:
            {
                int i = rng.Next(entries.Count);
                var data = entries[i].Data;
                entries[i] = (entries[i].Name, rng.Next(2) == 0 ? data[..rng.Next(data.Length + 1)] : [.. data, .. RandomBytes(rng, rng.Next(1, 4096))]);
                return Zip(entries);
            }
            case Mutation.AlterPickle:
            {
                var pickle = (byte[])entries[source.PickleIndex].Data.Clone();
                for (int i = rng.Next(1, 9); i > 0; i--) pickle[rng.Next(pickle.Length)] = (byte)rng.Next(256);
                entries[source.PickleIndex] = (entries[source.PickleIndex].Name, pickle);
                return Zip(entries);
            }
            default:
            {
                // Integers the pickle declares (sizes, strides, element counts, channel counts) made huge or negative.
                var pickle = (byte[])entries[source.PickleIndex].Data.Clone();
                var positions = Enumerable.Range(0, pickle.Length - 5).Where(p => pickle[p] is (byte)'J' or (byte)'M').ToArray();
                for (int i = rng.Next(1, 4); i > 0; i--)
                {
                    int at = positions[rng.Next(positions.Length)];
                    int value = rng.Next(4) switch { 0 => int.MaxValue, 1 => -1, 2 => 1 << 30, _ => rng.Next() };
                    if (pickle[at] == (byte)'J') BitConverter.GetBytes(value).CopyTo(pickle, at + 1);
                    else BitConverter.GetBytes((ushort)value).CopyTo(pickle, at + 1);
                }
                entries[source.PickleIndex] = (entries[source.PickleIndex].Name, pickle);
                return Zip(entries);
            }
        }
    }

    private static byte[] RandomBytes(Random rng, int n)
    {
        var b = new byte[n];
        rng.NextBytes(b);
        return b;
    }

    [Fact]
    public async Task MutatedCheckpointsEndInAClearErrorOrAValidModel()
    {
        var sources = new[] { Read(Fixtures.Yolov8ShapesModel), Read(Fixtures.ShapesModel) };
        var rng = new Random(20261126);
        using var dir = new TempDirectory();
        var outcomes = new Dictionary<(Mutation, string), int>();
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();
        for (int n = 0; n < Cases; n++)
        {
            var source = sources[n % 4 == 3 ? 1 : 0];
            var kind = (Mutation)(n % 6);
            byte[] bytes = Mutate(source, kind, rng);
            string path = dir.File($"case{n % 2}.pt");
            File.WriteAllBytes(path, bytes);

            string outcome;
            long allocated = 0;
            var worker = Task.Factory.StartNew(() =>
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                try
                {
                    using var model = YoloModel.Load(path);
                    return "model";
                }
                catch (CheckpointException e) when (e.FilePath == path && e.Message.Length > path.Length + 2)
                {
                    return "error";
                }
                catch (Exception e)
                {
                    return $"unexpected {e.GetType().Name}: {e.Message}";
                }
                finally
                {
                    allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                }
            }, TaskCreationOptions.LongRunning);
            outcome = await Task.WhenAny(worker, Task.Delay(TimeSpan.FromSeconds(60))) == worker ? await worker : "hang (no answer in 60 s)";
            if (outcome is not ("model" or "error"))
                failures.Add($"case {n} ({kind} of {source.Name}): {outcome}");
            // What a checkpoint may make us allocate is bounded by what it holds (storages are read once and widened
            // from fp16 at most), not by the sizes it declares.
            if (allocated > 8L * bytes.Length + (64L << 20))
                failures.Add($"case {n} ({kind} of {source.Name}): {allocated >> 20} MiB allocated for a {bytes.Length >> 20} MiB file");
            outcomes[(kind, outcome)] = outcomes.GetValueOrDefault((kind, outcome)) + 1;
        }
        foreach (var ((kind, outcome), count) in outcomes.OrderBy(o => o.Key.Item1))
            output.WriteLine($"{kind,-12} {outcome,-6} {count}");
        output.WriteLine($"{Cases} cases in {clock.Elapsed.TotalSeconds:F0} s");
        Assert.True(failures.Count == 0, string.Join("\n", failures.Take(20)));
        Assert.True(outcomes.Where(o => o.Key.Item2 == "error").Sum(o => o.Value) > Cases / 2, "most damaged files must be refused");
    }
}
