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
    /// <param name="Name">The path or URL.</param>
    /// <param name="Open">Opens it (again at each reconnection).</param>
    /// <param name="IsLive">A camera or stream rather than a file.</param>
    /// <param name="Label">The name the user gave it (<c>name=url</c>), or null.</param>
    public sealed record Entry(string Name, Func<IFrameSource> Open, bool IsLive = false, string? Label = null)
    {
        /// <summary>A still image file (by its extension): one frame.</summary>
        public bool IsImage => !IsLive && ImageFiles.Extensions.Contains(Path.GetExtension(Name));

        /// <summary>How messages name it: the name the user gave, else the source itself.</summary>
        public string Shown => Label ?? Name;
    }

    private static readonly System.Text.RegularExpressions.Regex Labelled = new(@"^([A-Za-z0-9][A-Za-z0-9_.-]{0,63})=(.+)$");

    /// <summary>
    /// The name and the source of a <c>name=source</c> spec; (null, spec) for a spec without a name, or for a file or
    /// folder whose own name has that form.
    /// </summary>
    public static (string? Label, string Source) SplitLabel(string spec)
    {
        var m = Labelled.Match(spec);
        return m.Success && !File.Exists(spec) && !Directory.Exists(spec) ? (m.Groups[1].Value, m.Groups[2].Value) : (null, spec);
    }

    /// <summary>
    /// The sources several <c>--source</c> values name, in order. A value <c>name=source</c> gives its source that
    /// name (for outputs and the web page); otherwise files are named by their stem and streams <c>streamN</c>.
    /// </summary>
    /// <exception cref="UserInputException">Nothing usable is named, or two sources were given the same name.</exception>
    public static IReadOnlyList<Entry> ResolveAll(IReadOnlyList<string> specs, LiveSourceOptions? live = null, Action<string>? notice = null)
    {
        var entries = new List<Entry>();
        foreach (var spec in specs)
        {
            var (label, what) = SplitLabel(spec);
            if (label is not null)
            {
                var named = Resolve(what, live, notice);
                entries.AddRange(named.Count == 1
                    ? [named[0] with { Label = label }]
                    : named.Select((e, i) => e with { Label = $"{label}-{i + 1}" }));
            }
            else
            {
                entries.AddRange(Resolve(spec, live, notice));
            }
        }
        var duplicate = entries.Where(e => e.Label is not null).GroupBy(e => e.Label, StringComparer.OrdinalIgnoreCase).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new UserInputException($"--source: the name '{duplicate.Key}' is given to {duplicate.Count()} sources");
        return entries;
    }

    /// <summary>
    /// A short, unique name per source, safe in file names and URLs: the given name, else the file's stem, else
    /// <c>streamN</c> (letters, digits, '_', '-' and '.' only). With <paramref name="asSpelt"/>, names keep every
    /// character a file name can hold (label files must match their image's name, spaces and all).
    /// </summary>
    public static IReadOnlyList<string> ShortNames(IReadOnlyList<Entry> entries, bool asSpelt = false)
    {
        var used = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var names = new string[entries.Count];
        for (int i = 0; i < entries.Count; i++)
        {
            var e = entries[i];
            string name = e.Label ?? (e.Name.Contains("://") || e.IsLive ? $"stream{i}" : Path.GetFileNameWithoutExtension(e.Name));
            name = asSpelt ? string.Concat(name.Select(c => c is '/' or '\\' or '\0' ? '_' : c))
                : System.Text.RegularExpressions.Regex.Replace(name, "[^A-Za-z0-9_.-]", "_");
            if (name.Length == 0 || name.Trim('.').Length == 0) name = $"source{i}";
            string candidate = name;
            for (int n = 2; !used.Add(candidate); n++) candidate = $"{name}_{n}";
            names[i] = candidate;
        }
        return names;
    }

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
            return [new Entry(StreamAddress.Redacted(spec), () => OpenStream(spec, live, notice), IsLive: true)];
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
                notice?.Invoke($"{StreamAddress.Redacted(url)}: reading through OpenCV");
                return viaOpenCv;
            }
            OpenCvCannotOpen[url] = true;
            notice?.Invoke($"{StreamAddress.Redacted(url)}: reading through ffmpeg (OpenCV's backend cannot open this URL here)");
        }
        return new FfmpegStreamSource(url, live.OpenTimeout, live.StallTimeout);
    }

    /// <summary>Whether <paramref name="path"/>'s extension is a video's or an image's (what a folder source reads).</summary>
    public static bool IsMedia(string path) =>
        VideoExtensions.Contains(Path.GetExtension(path)) || ImageFiles.Extensions.Contains(Path.GetExtension(path));

    private static Entry ForFile(string path)
    {
        string full = Path.GetFullPath(path);
        if (ImageFiles.Extensions.Contains(Path.GetExtension(path))) return new Entry(full, () => new ImageFrameSource(full));
        return new Entry(full, () => OpenVideoFile(full));
    }

    /// <summary>
    /// Opens a video file: decoded by the system ffmpeg where it is installed and the video has an even size
    /// (<see cref="FfmpegFileSource"/>), else by OpenCV (<see cref="VideoFileSource"/>). ffmpeg is started before the
    /// file is probed, so its start-up and the probe overlap; it is stopped again where the probe rules it out, or
    /// where it delivers no frame (a damaged file, or an ffmpeg that does not take the options): OpenCV then tries.
    /// </summary>
    /// <exception cref="UserInputException">Missing or unreadable file.</exception>
    public static IFrameSource OpenVideoFile(string path)
    {
        if (!File.Exists(path)) throw new UserInputException($"{path}: no such file");
        if (Ffmpeg.FfmpegPath is null) return new VideoFileSource(path);
        path = Path.GetFullPath(path); // never taken for an option by ffmpeg or ffprobe
        var decoder = FfmpegFileSource.StartDecoder(path);
        VideoStreamInfo? probe = null;
        string error = "";
        try
        {
            probe = Ffmpeg.Probe(path, TimeSpan.FromSeconds(10), out error);
            if (probe is not null && FfmpegFileSource.CanRead(probe))
            {
                var source = new FfmpegFileSource(path, probe, decoder);
                decoder = null;
                if (source.Started()) return source;
                source.Dispose();
            }
        }
        finally
        {
            if (decoder is not null) FfmpegFileSource.StopDecoder(decoder);
        }
        // OpenCV reads it; ffprobe's answer goes along so that it is not asked again.
        return new VideoFileSource(path, (probe, error));
    }

    /// <summary>
    /// Frames in <paramref name="entry"/> for a progress bar, without starting its decoder: a video file's from
    /// ffprobe (OpenCV's where ffprobe is missing or cannot tell), else its source's; null for live sources or when unknown.
    /// </summary>
    /// <exception cref="UserInputException">The source cannot be opened.</exception>
    public static long? CountFrames(Entry entry)
    {
        if (entry.IsLive) return null;
        if (File.Exists(entry.Name) && VideoExtensions.Contains(Path.GetExtension(entry.Name))
            && Ffmpeg.Probe(entry.Name, TimeSpan.FromSeconds(10), out _) is { FrameCount: long frames })
            return frames;
        using var source = entry.Open();
        return source.FrameCount;
    }
}
