using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary>
/// Checks, before anything is written, that an output can be created where the user asked: its folder exists or
/// can be made (no file in the way), and a file output is not a folder. Problems are reported up front rather than
/// as half-written outputs.
/// </summary>
public static class OutputLocation
{
    /// <summary>Makes sure <paramref name="path"/> can be written as a file; <paramref name="what"/> names it in errors (e.g. "--save-json").</summary>
    /// <exception cref="UserInputException">A folder is in the way, or the folder for it cannot be made.</exception>
    public static void EnsureFile(string path, string what)
    {
        string full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new UserInputException($"{what} {path}: is a folder; give a file name");
        EnsureFolder(Path.GetDirectoryName(full)!, what, path);
    }

    /// <summary>Makes sure <paramref name="path"/> is (or can be made) a folder.</summary>
    /// <exception cref="UserInputException">A file is in the way, or the folder cannot be made.</exception>
    public static void EnsureFolder(string path, string what) => EnsureFolder(Path.GetFullPath(path), what, path);

    private static void EnsureFolder(string full, string what, string given)
    {
        for (var dir = full; !string.IsNullOrEmpty(dir); dir = Path.GetDirectoryName(dir))
        {
            if (Directory.Exists(dir)) break;
            if (File.Exists(dir))
                throw new UserInputException($"{what} {given}: '{dir}' is a file, so no folder can be made there");
        }
        try
        {
            Directory.CreateDirectory(full);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"{what} {given}: cannot create folder '{full}': {e.Message}", e);
        }
    }
}
