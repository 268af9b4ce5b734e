using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary>
/// Checks, before anything is loaded or written, that an output can be created where the user asked: no file is in
/// the way of its folder, a file output is not a folder, and the deepest folder that exists takes new files. The
/// checks create nothing (the outputs make their folders when they first write), so a run refused for any reason
/// leaves nothing behind.
/// </summary>
public static class OutputLocation
{
    /// <summary>Makes sure <paramref name="path"/> can be written as a file; <paramref name="what"/> names it in errors (e.g. "--save-json").</summary>
    /// <exception cref="UserInputException">A folder is in the way, or no file can be created there.</exception>
    public static void EnsureFile(string path, string what)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new UserInputException($"{what} {path}: is a folder; give a file name");
        EnsureFolder(Path.GetDirectoryName(full)!, what, path);
    }

    /// <summary>Makes sure <paramref name="path"/> is, or can be made, a folder that takes new files.</summary>
    /// <exception cref="UserInputException">A file is in the way, or no file can be created there.</exception>
    public static void EnsureFolder(string path, string what) => EnsureFolder(Path.GetFullPath(path), what, path);

    /// <summary>Checks <paramref name="path"/> as <see cref="EnsureFolder(string, string)"/> does, then creates it.</summary>
    /// <exception cref="UserInputException">A file is in the way, or the folder cannot be made.</exception>
    public static void CreateFolder(string path, string what)
    {
        string full = Path.GetFullPath(path);
        EnsureFolder(full, what, path);
        try
        {
            Directory.CreateDirectory(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"{what} {path}: cannot create folder '{full}': {e.Message}", e);
        }
    }

    private static void EnsureFolder(string full, string what, string given)
    {
        var existing = full;
        while (!Directory.Exists(existing))
        {
            if (File.Exists(existing)) throw new UserInputException($"{what} {given}: '{existing}' is a file, so no folder can be made there");
            existing = Path.GetDirectoryName(existing);
            if (string.IsNullOrEmpty(existing)) return;
        }
        // Permissions alone do not tell (root, read-only mounts, /proc): a file is made and removed at once.
        string probe = Path.Combine(existing, $".stream-analyzer-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (File.Create(probe, 1, FileOptions.DeleteOnClose)) { }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            string reason = e switch
            {
                UnauthorizedAccessException => "permission denied",
                FileNotFoundException or DirectoryNotFoundException => "files cannot be created there",
                _ => e.Message,
            };
            throw new UserInputException($"{what} {given}: cannot write in '{existing}' ({reason})", e);
        }
    }
}
