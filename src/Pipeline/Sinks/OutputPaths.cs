namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary>
/// Where <c>--save</c> puts each source's output: with one video source and a video file name, or one image and an
/// image file name, that file; otherwise <c>--save</c> is a folder holding <c>&lt;source name&gt;.mp4</c> per video and
/// the annotated copy per image. A name ending in another video container's extension (.webm, .ts, ...) or in a data
/// file's (.txt, .json, ...) is refused rather than made a folder.
/// </summary>
public static class OutputPaths
{
    private static readonly string[] VideoOutputExtensions = [".mp4", ".mkv", ".mov", ".avi"];

    // Names users give a video they expect as a file, in a container this program does not write: refused rather than
    // taken for a folder name.
    private static readonly string[] OtherVideoExtensions = [".webm", ".m4v", ".ts", ".mts", ".m2ts", ".mpg", ".mpeg", ".flv", ".wmv", ".ogv", ".3gp", ".gif"];

    // Names of files no --save output is: taken for a mistake (a JSON or label file meant for another option), not a folder.
    private static readonly string[] NotFolderExtensions = [".txt", ".json", ".jsonl", ".csv", ".npy", ".yaml", ".yml", ".pt"];

    /// <summary>The output path of every source.</summary>
    /// <param name="save">The <c>--save</c> value.</param>
    /// <param name="sourceNames">Each source's path or URL.</param>
    /// <param name="isImage">Whether source i is an image (its output keeps the image's extension).</param>
    /// <param name="shortNames">File names (without extension) to use, e.g. <see cref="Sources.SourceCatalog.ShortNames"/>; by default the file stem or <c>streamN</c>.</param>
    public static IReadOnlyList<string> Plan(string save, IReadOnlyList<string> sourceNames, Func<int, bool> isImage, IReadOnlyList<string>? shortNames = null)
    {
        string extension = Path.GetExtension(save);
        if (OtherVideoExtensions.Contains(extension, StringComparer.OrdinalIgnoreCase))
            throw new Runtime.UserInputException($"--save {save}: {extension} files are not written; name an .mp4, .mkv, .mov or .avi file, or a folder");
        // An existing folder stays a folder, whatever its name ends in.
        bool folder = Directory.Exists(save);
        bool saveIsVideoFile = !folder && VideoOutputExtensions.Contains(extension, StringComparer.OrdinalIgnoreCase);
        bool saveIsImageFile = !folder && Sources.ImageFiles.Extensions.Contains(extension);
        if (sourceNames.Count == 1 && saveIsVideoFile && !isImage(0)) return [save];
        if (sourceNames.Count == 1 && saveIsImageFile && isImage(0))
            return OpenCvSharp.Cv2.HaveImageWriter(save) ? [save]
                : throw new Runtime.UserInputException($"--save {save}: {extension} images cannot be written here; name a .jpg or .png file, or a folder");
        if (sourceNames.Count == 1 && (saveIsVideoFile || saveIsImageFile))
            throw new Runtime.UserInputException(isImage(0)
                ? $"--save {save}: the source is an image; name an image file (e.g. .jpg or .png) or a folder"
                : $"--save {save}: the source is a video; name an .mp4, .mkv, .mov or .avi file, or a folder");
        if (saveIsVideoFile || saveIsImageFile)
            throw new Runtime.UserInputException($"--save {save}: {sourceNames.Count} sources need a folder (one output per source), not a file");
        if (NotFolderExtensions.Contains(extension, StringComparer.OrdinalIgnoreCase) && !folder)
            throw new Runtime.UserInputException($"--save {save}: {extension} is not an output of --save; name a video or image file, or a folder");
        var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var paths = new List<string>();
        for (int i = 0; i < sourceNames.Count; i++)
        {
            string name = shortNames?[i] ?? (sourceNames[i].Contains("://") ? $"stream{i}" : Path.GetFileNameWithoutExtension(sourceNames[i]));
            string ext = isImage(i) ? Path.GetExtension(sourceNames[i]) : ".mp4";
            string candidate = name + ext;
            for (int n = 2; !used.Add(candidate); n++) candidate = $"{name}_{n}{ext}";
            paths.Add(Path.Combine(save, candidate));
        }
        return paths;
    }
}
