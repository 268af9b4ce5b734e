using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Sources;

namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary>
/// Checks, before anything is written, that no output would overwrite an input the run reads, that no two outputs
/// share a file, and that JSON lines are not given an image's or a video's name: each would destroy a file the user
/// keeps, or leave a file neither reader can use.
/// </summary>
public static class OutputClashes
{
    // Paths are compared as the file system compares them: case matters on Linux.
    private static readonly StringComparer PathComparer = OperatingSystem.IsLinux() ? StringComparer.Ordinal : StringComparer.OrdinalIgnoreCase;

    /// <summary>Refuses the first clash between <paramref name="inputs"/> and <paramref name="outputs"/>.</summary>
    /// <param name="inputs">The run's sources (files, or URLs, which never clash).</param>
    /// <param name="outputs">Each output file with the option that asked for it (e.g. "--save").</param>
    /// <exception cref="UserInputException">An output is an input, two outputs are one file, or JSON lines would get a media file's name.</exception>
    public static void Check(IEnumerable<string> inputs, IEnumerable<(string Option, string Path)> outputs)
    {
        var read = new HashSet<string>(inputs.Where(i => !i.Contains("://", StringComparison.Ordinal)).Select(Resolved), PathComparer);
        var written = new Dictionary<string, string>(PathComparer);
        foreach (var (option, path) in outputs)
        {
            string full = Resolved(path);
            if (read.Contains(full))
                throw new UserInputException($"{option} {path}: that is an input of this run, which writing would destroy; name another file or folder");
            if (written.TryGetValue(full, out var other))
                throw new UserInputException(other == option
                    ? $"{option} {path}: two outputs would be written to this one file"
                    : $"{other} and {option} both name {path}: give each its own file");
            written[full] = option;
            string extension = Path.GetExtension(full);
            if (option == "--save-json" && (ImageFiles.Extensions.Contains(extension) || SourceCatalog.VideoExtensions.Contains(extension)))
                throw new UserInputException($"--save-json {path}: JSON lines under a {extension} name; name a .jsonl file or a folder");
        }
    }

    // The file a path names, through symbolic links anywhere on it (an input reached through a link, to the file or to
    // a folder above it, is still that input). Hard links are not told apart: .NET has no portable file identity.
    private static string Resolved(string path)
    {
        // The folder reached so far (from a root) and the names still to follow from it.
        string current = "";
        var rest = new Queue<string>();
        void StartAt(string full, string[] after)
        {
            current = Path.GetPathRoot(full) ?? "";
            rest = new Queue<string>(full[current.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries).Concat(after));
        }
        StartAt(Path.GetFullPath(path), []);
        for (int links = 0; rest.TryDequeue(out var part);)
        {
            string next = Path.Combine(current, part);
            string? target;
            try
            {
                target = new FileInfo(next).LinkTarget;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                target = null; // unreadable (Windows can refuse to open a folder): taken as written
            }
            if (target is null || ++links > 40) // not a link (or missing), or a loop: taken as written
                current = next;
            else // the link's target, then what was left of the path, resolved again from the top
                StartAt(Path.GetFullPath(target, current), rest.ToArray());
        }
        return current;
    }
}
