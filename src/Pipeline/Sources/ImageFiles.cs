using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Sources;

/// <summary>Resolves an image <c>--source</c>: one file, a folder (its images, sorted), or a glob such as <c>dir/*.jpg</c>.</summary>
public static class ImageFiles
{
    /// <summary>File extensions treated as images when a folder is given.</summary>
    public static readonly IReadOnlySet<string> Extensions = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        { ".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".dng", ".jp2" };

    /// <summary>The files a source names, as full paths (as a single file is, and as upstream prints them), in a stable order.</summary>
    /// <exception cref="UserInputException">Nothing matches.</exception>
    public static IReadOnlyList<string> Resolve(string source)
    {
        if (File.Exists(source)) return [Path.GetFullPath(source)];
        if (Directory.Exists(source))
        {
            var inFolder = Directory.EnumerateFiles(Path.GetFullPath(source)).Where(f => Extensions.Contains(Path.GetExtension(f))).Order(StringComparer.Ordinal).ToArray();
            return inFolder.Length > 0 ? inFolder : throw new UserInputException($"{source}: no images in this folder");
        }
        if (source.IndexOfAny(['*', '?']) >= 0)
        {
            string dir = Path.GetDirectoryName(source) is { Length: > 0 } d ? d : ".";
            string pattern = Path.GetFileName(source);
            if (!Directory.Exists(dir)) throw new UserInputException($"{source}: folder '{dir}' does not exist");
            var matched = Directory.EnumerateFiles(Path.GetFullPath(dir), pattern).Order(StringComparer.Ordinal).ToArray();
            return matched.Length > 0 ? matched : throw new UserInputException($"{source}: no files match");
        }
        throw new UserInputException($"{source}: no such file or folder");
    }
}
