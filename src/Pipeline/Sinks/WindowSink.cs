using OpenCvSharp;
using StreamAnalyzer.Pipeline.Rendering;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary>
/// <c>--view-img</c>: a live OpenCV HighGUI window per source. Keys: <c>q</c>/Esc quit, space pauses (the pipeline
/// waits; live sources drop frames meanwhile), <c>h</c> toggles the heatmap. The window runs on a thread of its own:
/// GTK wants one thread for its windows.
/// </summary>
public sealed class WindowSink : IFrameSink
{
    private readonly Func<int, string> _title;
    private readonly Action _quit;
    private volatile int _layers = (int)OverlayLayers.All;
    private readonly Thread _ui;
    private readonly object _gate = new();
    private readonly ManualResetEventSlim _running = new(true);
    private readonly Dictionary<string, Mat> _pending = [];
    private volatile bool _closing;
    private volatile bool _quitRequested;

    /// <summary>Opens the window thread. <paramref name="quit"/> is called for q/Esc.</summary>
    /// <exception cref="UserInputException">No display to show a window on.</exception>
    public WindowSink(Func<int, string> title, Action quit)
    {
        EnsureDisplay();
        _title = title;
        _quit = quit;
        _ui = new Thread(Loop) { IsBackground = true, Name = "view-img" };
        _ui.Start();
    }

    /// <summary>Checks that there is a display to open the window on (before the model loads and outputs open).</summary>
    /// <exception cref="UserInputException">No display.</exception>
    public static void EnsureDisplay()
    {
        if (OperatingSystem.IsLinux() && string.IsNullOrEmpty(Environment.GetEnvironmentVariable("DISPLAY")) &&
            string.IsNullOrEmpty(Environment.GetEnvironmentVariable("WAYLAND_DISPLAY")))
            throw new UserInputException("--view-img needs a display (DISPLAY is not set; on a headless machine use Xvfb)");
    }

    /// <summary>What the window shows (<c>h</c> toggles the heatmap).</summary>
    public OverlayLayers Layers => (OverlayLayers)_layers;

    /// <summary>True while paused with the space key.</summary>
    public bool Paused => !_running.IsSet;

    /// <inheritdoc/>
    public void Write(AnalyzedFrame frame)
    {
        // Paused: hold the pipeline here until space is pressed again (or the run ends).
        while (!_running.Wait(100) && !_closing && !_quitRequested) { }
        var copy = frame.ImageFor(Layers).Clone();
        lock (_gate)
        {
            string title = _title(frame.Frame.SourceIndex);
            if (_pending.Remove(title, out var older)) older.Dispose();
            _pending[title] = copy;
        }
    }

    /// <inheritdoc/>
    public void CompleteSource(int source) { }

    private void Loop()
    {
        var open = new HashSet<string>();
        try
        {
            while (!_closing)
            {
                KeyValuePair<string, Mat>[] work;
                lock (_gate)
                {
                    work = _pending.ToArray();
                    _pending.Clear();
                }
                foreach (var (title, image) in work)
                {
                    using (image)
                    {
                        if (open.Add(title)) Cv2.NamedWindow(title, WindowFlags.AutoSize);
                        Cv2.ImShow(title, image);
                    }
                }
                int key = Cv2.WaitKey(work.Length > 0 ? 1 : 15);
                if (key is 'q' or 'Q' or 27)
                {
                    if (!_quitRequested)
                    {
                        _quitRequested = true;
                        _running.Set();
                        _quit();
                    }
                }
                else if (key == ' ')
                {
                    if (_running.IsSet) _running.Reset();
                    else _running.Set();
                }
                else if (key is 'h' or 'H')
                {
                    _layers ^= (int)OverlayLayers.Heatmap; // this window only: recordings keep what they asked for
                }
            }
        }
        finally
        {
            if (open.Count > 0) Cv2.DestroyAllWindows();
            lock (_gate)
            {
                foreach (var m in _pending.Values) m.Dispose();
                _pending.Clear();
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _closing = true;
        _running.Set();
        _ui.Join(TimeSpan.FromSeconds(5));
        _running.Dispose();
    }
}
