using System.IO.Compression;
using System.IO.Hashing;

namespace StreamAnalyzer.Pipeline.Checkpoints;

/// <summary>
/// The zip container <c>torch.save</c> writes (PyTorch 1.6 and later, torch 2.x included): <c>&lt;name&gt;/data.pkl</c>
/// and one entry per storage under <c>&lt;name&gt;/data/</c>. Every entry read is checked against its CRC-32, and
/// nothing is allocated beyond what the file itself could hold, so a damaged or crafted file is an error naming the
/// entry, never junk weights or a huge allocation.
/// </summary>
internal sealed class TorchArchive : IDisposable
{
    private const long MaxPickleBytes = 512L << 20;
    private readonly ZipArchive _zip;
    private readonly string _prefix;
    private readonly long _fileLength;

    private TorchArchive(string path, ZipArchive zip, string prefix, long fileLength)
    {
        FilePath = path;
        _zip = zip;
        _prefix = prefix;
        _fileLength = fileLength;
    }

    /// <summary>The file.</summary>
    public string FilePath { get; }

    // Names the checkpoints a folder holds, so the user can pick one.
    private static string CheckpointsIn(string folder)
    {
        var names = Directory.EnumerateFiles(folder, "*.pt").Select(Path.GetFileName).Order(StringComparer.Ordinal).ToArray();
        return names.Length switch
        {
            0 => "",
            <= 3 => $" (it holds {string.Join(", ", names)})",
            _ => $" (it holds {string.Join(", ", names.Take(3))} and {names.Length - 3} more .pt files)",
        };
    }

    /// <summary>Opens <paramref name="path"/> and finds its <c>data.pkl</c>.</summary>
    /// <exception cref="CheckpointException">Not a file, not a zip, damaged, or not a torch archive.</exception>
    public static TorchArchive Open(string path)
    {
        if (Directory.Exists(path)) throw new CheckpointException(path, "is a folder, not a checkpoint file" + CheckpointsIn(path));
        if (!File.Exists(path)) throw new CheckpointException(path, "file not found");
        ZipArchive zip;
        try
        {
            zip = ZipFile.OpenRead(path);
        }
        catch (InvalidDataException e)
        {
            throw new CheckpointException(path, DescribeNonZip(path), e);
        }
        catch (IOException e)
        {
            throw new CheckpointException(path, $"cannot be read: {e.Message}", e);
        }
        try
        {
            var pkl = zip.Entries.Where(e => e.FullName.EndsWith("data.pkl", StringComparison.Ordinal))
                .OrderBy(e => e.FullName.Count(c => c == '/')).FirstOrDefault()
                ?? throw new CheckpointException(path, "zip archive has no data.pkl: not a PyTorch checkpoint");
            string prefix = pkl.FullName[..^"data.pkl".Length];
            var archive = new TorchArchive(path, zip, prefix, new FileInfo(path).Length);
            archive.CheckByteOrder();
            return archive;
        }
        catch (InvalidDataException e)
        {
            // The central directory is read when the entries are first listed.
            zip.Dispose();
            throw new CheckpointException(path, $"zip archive is damaged: {e.Message}", e);
        }
        catch
        {
            zip.Dispose();
            throw;
        }
    }

    /// <summary>The bytes of <c>data.pkl</c> (CRC-checked).</summary>
    public byte[] ReadPickle()
    {
        var entry = _zip.GetEntry(_prefix + "data.pkl")!;
        if (entry.Length > Math.Min(MaxPickleBytes, _fileLength))
            throw new CheckpointException(FilePath, $"data.pkl claims {entry.Length} bytes, more than the file or any checkpoint holds");
        return ReadEntry(entry, entry.Length);
    }

    /// <summary>The raw bytes of a storage (CRC-checked), exactly as many as its tensor elements need.</summary>
    public byte[] ReadStorage(StorageRef storage)
    {
        var name = $"{_prefix}data/{storage.Key}";
        var entry = _zip.GetEntry(name) ?? throw new CheckpointException(FilePath, $"storage '{name}' is missing from the archive");
        long needed = storage.Numel * storage.ElementSize;
        // Sizes are checked against the archive and the file before anything is allocated.
        if (entry.Length < needed)
            throw new CheckpointException(FilePath, $"storage '{name}' holds {entry.Length} bytes but its tensor needs {needed} ({storage.Numel} x {storage.DType})");
        if (needed > _fileLength)
            throw new CheckpointException(FilePath, $"storage '{name}' claims {needed} bytes, more than the whole file holds");
        return ReadEntry(entry, needed);
    }

    /// <inheritdoc/>
    public void Dispose() => _zip.Dispose();

    // torch 2.x writes a 'byteorder' record; storages are read as little-endian.
    private void CheckByteOrder()
    {
        var entry = _zip.GetEntry(_prefix + "byteorder");
        if (entry is null || entry.Length > 16) return;
        var order = System.Text.Encoding.ASCII.GetString(ReadEntry(entry, entry.Length)).Trim();
        if (order is not "" and not "little")
            throw new CheckpointException(FilePath, $"storages are stored {order}-endian; only little-endian checkpoints are supported");
    }

    // Reads the first `keep` bytes of an entry, and the rest of it for the checksum, in chunks.
    private byte[] ReadEntry(ZipArchiveEntry entry, long keep)
    {
        try
        {
            using var s = entry.Open();
            var buffer = new byte[keep];
            var crc = new Crc32();
            long read = 0;
            while (read < keep)
            {
                int n = s.Read(buffer, (int)read, (int)Math.Min(int.MaxValue, keep - read));
                if (n == 0) break;
                read += n;
            }
            if (read < keep) throw new CheckpointException(FilePath, $"'{entry.FullName}' is truncated: {read} of {keep} bytes");
            crc.Append(buffer);
            var rest = new byte[64 * 1024];
            for (int n; (n = s.Read(rest, 0, rest.Length)) > 0;)
            {
                read += n;
                if (read > entry.Length) break;
                crc.Append(rest.AsSpan(0, n));
            }
            if (read != entry.Length)
                throw new CheckpointException(FilePath, $"'{entry.FullName}' is damaged: {read} bytes where the archive lists {entry.Length}");
            if (crc.GetCurrentHashAsUInt32() != entry.Crc32)
                throw new CheckpointException(FilePath, $"'{entry.FullName}' is damaged: its CRC-32 does not match the archive's (the file was corrupted)");
            return buffer;
        }
        catch (InvalidDataException e)
        {
            throw new CheckpointException(FilePath, $"'{entry.FullName}' is damaged: {e.Message}", e);
        }
        catch (IOException e)
        {
            throw new CheckpointException(FilePath, $"'{entry.FullName}' cannot be read (file truncated?): {e.Message}", e);
        }
    }

    private static string DescribeNonZip(string path)
    {
        if (new FileInfo(path).Length == 0) return "the file is empty (0 bytes): an interrupted download or copy?";
        var head = new byte[2];
        using (var f = File.OpenRead(path)) _ = f.Read(head, 0, 2);
        if (head[0] == 0x80 && head[1] <= 5)
            return "legacy (pre-1.6, non-zip) PyTorch serialization is not supported; re-save it with torch.save in PyTorch >= 1.6";
        if (head[0] == 'P' && head[1] == 'K')
            return "zip archive is damaged or truncated (its central directory cannot be read)";
        return "not a PyTorch checkpoint: the file is not a zip archive";
    }
}
