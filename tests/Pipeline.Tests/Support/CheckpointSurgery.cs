using System.IO.Compression;
using System.Text;

namespace StreamAnalyzer.Pipeline.Tests.Support;

/// <summary>Builds malformed and hostile checkpoints inside the tests, from scratch or from a real one.</summary>
public static class CheckpointSurgery
{
    /// <summary>Writes a zip laid out like torch.save's, holding the given entries under <c>archive/</c>.</summary>
    public static void WriteArchive(string path, IReadOnlyDictionary<string, byte[]> entries)
    {
        using var zip = ZipFile.Open(path, ZipArchiveMode.Create);
        foreach (var (name, data) in entries)
        {
            var entry = zip.CreateEntry("archive/" + name, CompressionLevel.NoCompression);
            using var s = entry.Open();
            s.Write(data);
        }
    }

    /// <summary>
    /// Copies a checkpoint, letting <paramref name="transform"/> replace (or drop, by returning null) each entry, and
    /// adding <paramref name="add"/> (names relative to the archive's folder).
    /// </summary>
    public static void Rewrite(string source, string destination, Func<string, byte[], byte[]?> transform,
        IReadOnlyDictionary<string, byte[]>? add = null)
    {
        using var input = ZipFile.OpenRead(source);
        using var output = ZipFile.Open(destination, ZipArchiveMode.Create);
        string folder = input.Entries[0].FullName[..(input.Entries[0].FullName.IndexOf('/') + 1)];
        foreach (var (name, data) in add ?? new Dictionary<string, byte[]>())
        {
            using var w = output.CreateEntry(folder + name, CompressionLevel.NoCompression).Open();
            w.Write(data);
        }
        foreach (var entry in input.Entries)
        {
            using var ms = new MemoryStream();
            using (var s = entry.Open()) s.CopyTo(ms);
            var data = transform(entry.FullName, ms.ToArray());
            if (data is null) continue;
            var copy = output.CreateEntry(entry.FullName, CompressionLevel.NoCompression);
            using var w = copy.Open();
            w.Write(data);
        }
    }

    /// <summary>A protocol-2 pickle string (BINUNICODE).</summary>
    public static byte[] BinUnicode(string s)
    {
        var utf8 = Encoding.UTF8.GetBytes(s);
        return [(byte)'X', .. BitConverter.GetBytes(utf8.Length), .. utf8];
    }

    /// <summary>Replaces the first occurrence of <paramref name="find"/> at or after <paramref name="from"/>.</summary>
    public static byte[] ReplaceFirst(byte[] data, byte[] find, byte[] replacement, int from = 0)
    {
        int at = IndexOf(data, find, from);
        if (at < 0) throw new InvalidOperationException("pattern not found in the pickle");
        return [.. data.AsSpan(0, at), .. replacement, .. data.AsSpan(at + find.Length)];
    }

    public static int IndexOf(byte[] data, byte[] find, int from = 0)
    {
        int at = data.AsSpan(from).IndexOf(find);
        return at < 0 ? -1 : at + from;
    }
}
