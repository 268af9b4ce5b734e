using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Sources;

/// <summary>
/// Resolves a <c>--source</c> into the sources it names: a video or image file, a folder (its videos and images,
/// sorted), a glob (<c>clips/*.mp4</c>), or a <c>.txt</c> file listing one source per line (# comments allowed).
/// Sources are opened lazily, one at a time as they are read.
/// </summary>
public static class SourceCatalog
{
    /// <summary>Extensions treated as video files.</summary>
    public static readonly IReadOnlySet<string> VideoExtensions = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        { ".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".wmv", ".webm", ".ts", ".asf", ".gif" };

    /// <summary>A source to open.</summary>
    public sealed record Entry(string Name, Func<IFrameSource> Open);

    /// <summary>The sources <paramref name="spec"/> names, in order.</summary>
    /// <exception cref="UserInputException">Nothing usable is named.</exception>
    public static IReadOnlyList<Entry> Resolve(string spec)
    {
        if (File.Exists(spec) && Path.GetExtension(spec).Equals(".txt", StringComparison.OrdinalIgnoreCase))
        {
            var lines = File.ReadAllLines(spec).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();
            if (lines.Length == 0) throw new UserInputException($"{spec}: the source list is empty");
            string baseDir = Path.GetDirectoryName(Path.GetFullPath(spec))!;
            return lines.SelectMany(l => ResolveOne(Path.IsPathRooted(l) || l.Contains("://") ? l : Path.Combine(baseDir, l))).ToArray();
        }
        return ResolveOne(spec);
    }

    private static IReadOnlyList<Entry> ResolveOne(string spec)
    {
        if (File.Exists(spec)) return [ForFile(spec)];
        if (Directory.Exists(spec))
        {
            var files = Directory.EnumerateFiles(spec).Where(IsMedia).Order(StringComparer.Ordinal).ToArray();
            return files.Length > 0 ? files.Select(ForFile).ToArray() : throw new UserInputException($"{spec}: no videos or images in this folder");
        }
        if (spec.IndexOfAny(['*', '?']) >= 0)
        {
            string dir = Path.GetDirectoryName(spec) is { Length: > 0 } d ? d : ".";
            if (!Directory.Exists(dir)) throw new UserInputException($"{spec}: folder '{dir}' does not exist");
            var files = Directory.EnumerateFiles(dir, Path.GetFileName(spec)).Where(IsMedia).Order(StringComparer.Ordinal).ToArray();
            return files.Length > 0 ? files.Select(ForFile).ToArray() : throw new UserInputException($"{spec}: no videos or images match");
        }
        throw new UserInputException($"{spec}: no such file or folder");
    }

    private static bool IsMedia(string path) =>
        VideoExtensions.Contains(Path.GetExtension(path)) || ImageFiles.Extensions.Contains(Path.GetExtension(path));

    private static Entry ForFile(string path)
    {
        string full = Path.GetFullPath(path);
        if (ImageFiles.Extensions.Contains(Path.GetExtension(path))) return new Entry(full, () => new ImageFrameSource(full));
        return new Entry(full, () => new VideoFileSource(full));
    }
}
