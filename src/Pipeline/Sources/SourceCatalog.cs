using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Sources;

/// <summary>
/// Resolves a <c>--source</c> into the sources it names: a video or image file, a folder (its videos and images,
/// sorted), a glob (<c>clips/*.mp4</c>), a camera index (<c>0</c>), a stream URL (<c>rtsp://</c>, <c>rtmp://</c>,
/// <c>http(s)://</c>, ...), or a <c>.txt</c> file listing one source per line (# comments allowed).
/// Sources are opened lazily, as they are read (live sources again at each reconnection).
/// </summary>
public static class SourceCatalog
{
    /// <summary>Extensions treated as video files.</summary>
    public static readonly IReadOnlySet<string> VideoExtensions = new HashSet<string>(StringComparer.OrdinalIgnoreCase)
        { ".mp4", ".avi", ".mov", ".mkv", ".m4v", ".mpg", ".mpeg", ".wmv", ".webm", ".ts", ".asf", ".gif" };

    /// <summary>A source to open; <paramref name="IsLive"/> sources favour the newest frame and reconnect.</summary>
    public sealed record Entry(string Name, Func<IFrameSource> Open, bool IsLive = false);



    /// <summary>The sources <paramref name="spec"/> names, in order.</summary>
    /// <param name="spec">What the user gave as <c>--source</c>.</param>
    /// <param name="live">How live sources are opened (default settings when null).</param>
    /// <param name="notice">Told which reader was chosen for a stream (e.g. "reading through ffmpeg").</param>
    /// <exception cref="UserInputException">Nothing usable is named.</exception>
    public static IReadOnlyList<Entry> Resolve(string spec, LiveSourceOptions? live = null, Action<string>? notice = null)
    {
        live ??= new LiveSourceOptions();
        if (File.Exists(spec) && Path.GetExtension(spec).Equals(".txt", StringComparison.OrdinalIgnoreCase))
        {
            var lines = File.ReadAllLines(spec).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#')).ToArray();
            if (lines.Length == 0) throw new UserInputException($"{spec}: the source list is empty");
            string baseDir = Path.GetDirectoryName(Path.GetFullPath(spec))!;
            // An entry that names nothing is reported when its turn comes; the others still run.
            return lines.SelectMany(l =>
            {
                string entry = Path.IsPathRooted(l) || l.Contains("://") ? l : Path.Combine(baseDir, l);
                try
                {
                    return ResolveOne(entry, live, notice);
                }
                catch (UserInputException e)
                {
                    string message = $"{spec}: {e.Message}";
                    return [new Entry(entry, () => throw new UserInputException(message))];
                }
            }).ToArray();
        }
        return ResolveOne(spec, live, notice);
    }

    private static IReadOnlyList<Entry> ResolveOne(string spec, LiveSourceOptions live, Action<string>? notice)
    {
        if (int.TryParse(spec, out int camera) && camera >= 0 && !File.Exists(spec))
            return [new Entry($"camera {camera}", () => LiveCaptureSource.Camera(camera), IsLive: true)];
        if (spec.Contains("://", StringComparison.Ordinal))
            return [new Entry(spec, () => OpenStream(spec, live, notice), IsLive: true)];
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

    private static readonly System.Collections.Concurrent.ConcurrentDictionary<string, bool> OpenCvCannotOpen = new();

    private static IFrameSource OpenStream(string url, LiveSourceOptions live, Action<string>? notice)
    {
        // OpenCV is asked once per URL; where its build cannot open it (no network protocols in the Linux runtime),
        // every reconnection goes straight to ffmpeg.
        if (!OpenCvCannotOpen.ContainsKey(url))
        {
            var previous = OpenCvSharp.Cv2.GetLogLevel();
            OpenCvSharp.Cv2.SetLogLevel(OpenCvSharp.LogLevel.ERROR); // its "can't capture by name" warning is expected here
            var viaOpenCv = LiveCaptureSource.TryOpenStream(url);
            OpenCvSharp.Cv2.SetLogLevel(previous);
            if (viaOpenCv is not null)
            {
                notice?.Invoke($"{url}: reading through OpenCV");
                return viaOpenCv;
            }
            OpenCvCannotOpen[url] = true;
            notice?.Invoke($"{url}: reading through ffmpeg (OpenCV's backend cannot open this URL here)");
        }
        return new FfmpegStreamSource(url, live.OpenTimeout, live.StallTimeout);
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
