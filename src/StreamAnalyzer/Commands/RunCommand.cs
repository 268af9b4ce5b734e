using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Spectre.Console;
using StreamAnalyzer.Pipeline.Application;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Explainers.Methods;
using StreamAnalyzer.Pipeline.Explainers.Targets;
using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Sinks;
using StreamAnalyzer.Pipeline.Sources;
using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>
/// <c>stream-analyzer run</c>: the streaming pipeline on videos, images, folders and source lists, with
/// explanations every Nth frame, writing annotated video, JSON lines and label files.
/// </summary>
internal static class RunCommand
{
    public static Command Create()
    {
        var weights = CommonOptions.Weights();
        var source = new Option<string[]>("--source")
        {
            Description = "video or image file, folder, glob, camera index, stream URL or .txt list; repeat for several streams, name=source names one",
            Required = true,
        };
        var detection = new DetectionOptions();
        var batch = new Option<int>("--batch") { Description = "frames per forward pass (across sources)", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var workers = CommonOptions.Workers();
        var batchTimeout = new Option<int>("--batch-timeout-ms") { Description = "longest wait to fill a batch", DefaultValueFactory = _ => 20 }.AtLeast(0);
        var vidStride = new Option<int>("--vid-stride") { Description = "process every Nth frame of a video", DefaultValueFactory = _ => 1 }.AtLeast(1);
        var camMethod = CommonOptions.CamMethodOption("--cam-method");
        var camEvery = new Option<int>("--cam-every") { Description = "explain every Nth frame of each source (0 = never)", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var camHold = new Option<bool>("--cam-hold") { Description = "keep showing the last map between explained frames (--cam-hold false: only on explained frames)", DefaultValueFactory = _ => true };
        var camTarget = CommonOptions.CamTargetOption("--cam-target");
        var topK = CommonOptions.TopK();
        var layers = new Option<string>("--layers") { Description = "auto, neck, or layer indices / submodule paths", DefaultValueFactory = _ => "auto" };
        var alpha = CommonOptions.Alpha();
        var noOverlay = new Option<bool>("--no-overlay") { Description = "no fps/latency text on the frames" };
        var save = new Option<string?>("--save") { Description = "annotated output: an .mp4 for one video source, else a folder (one file per source)" };
        var saveJson = new Option<string?>("--save-json") { Description = "one JSON line per processed frame" };
        var saveTxt = new Option<string?>("--save-txt") { Description = "folder for yolov7-style label files" };
        var saveConf = new Option<bool>("--save-conf") { Description = "add the confidence to --save-txt lines" };
        var viewImg = new Option<bool>("--view-img") { Description = "show a live window (q/Esc quit, space pause, h heatmap on/off)" };
        var view = new Option<string>("--view") { Description = "how maps are shown: overlay (blended where hot) or side-by-side (frame | heatmap)", DefaultValueFactory = _ => "overlay" }
            .AcceptOnlyFromAmong("overlay", "side-by-side");
        var serve = new Option<string?>("--serve")
        {
            Description = $"serve a live web page, a JSON control API, /healthz and /metrics at ADDR:PORT (default {WebView.ServeOptions.DefaultAddress}; other than loopback needs a token)",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var serveToken = new Option<string?>("--serve-token") { Description = $"access token for --serve (or the {WebView.ServeOptions.TokenVariable} environment variable)" };
        var duration = new Option<double>("--duration") { Description = "stop after this many seconds (0: when the sources end, or Ctrl+C)", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var maxStaleness = new Option<int>("--max-staleness-ms") { Description = "drop live frames older than this before inference (0: no limit)", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var openTimeout = new Option<double>("--open-timeout") { Description = "seconds a live source has to answer when opened", DefaultValueFactory = _ => 10 }.InRange(0.1, 3600);
        var stallTimeout = new Option<double>("--stall-timeout") { Description = "seconds without a frame before a live source reconnects", DefaultValueFactory = _ => 5 }.InRange(0.1, 3600);
        var maxReconnects = new Option<int>("--max-reconnects") { Description = "give up after this many failed reconnections in a row (0: never)", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var config = new Option<string?>("--config") { Description = "YAML file of settings (keys are these flag names); flags override it" };
        var noFuse = CommonOptions.NoFuse();
        var command = new Command("run", "Run the streaming pipeline: detect (and explain every Nth frame) on videos and images, write annotated video and JSON lines")
        {
            weights, source, batch, workers, batchTimeout, vidStride, camMethod, camEvery, camHold,
            camTarget, topK, layers, alpha, noOverlay, save, saveJson, saveTxt, saveConf, config, noFuse,
            viewImg, view, serve, serveToken, duration, maxStaleness, openTimeout, stallTimeout, maxReconnects,
        };
        detection.AddTo(command, 2);
        command.SetAction((p, token) => CommandRunner.RunAsync(async _ =>
        {
            var settings = new RunSettings(
                p.GetValue(weights)!.FullName, p.GetValue(source)!,
                detection.Read(p),
                new PipelineOptions
                {
                    Batch = p.GetValue(batch), Workers = p.GetValue(workers), BatchTimeout = TimeSpan.FromMilliseconds(p.GetValue(batchTimeout)),
                    VidStride = p.GetValue(vidStride), CamEvery = p.GetValue(camEvery), CamHold = p.GetValue(camHold),
                    TopK = p.GetValue(topK), Alpha = p.GetValue(alpha), Overlay = !p.GetValue(noOverlay), SideBySide = p.GetValue(view) == "side-by-side",
                    MaxStaleness = TimeSpan.FromMilliseconds(p.GetValue(maxStaleness)),
                    Live = new LiveSourceOptions
                    {
                        OpenTimeout = TimeSpan.FromSeconds(p.GetValue(openTimeout)), StallTimeout = TimeSpan.FromSeconds(p.GetValue(stallTimeout)),
                        MaxReconnects = p.GetValue(maxReconnects),
                    },
                },
                p.GetValue(camMethod)!, p.GetValue(camTarget)!, p.GetValue(layers)!, !p.GetValue(noFuse),
                p.GetValue(save), p.GetValue(saveJson), p.GetValue(saveTxt), p.GetValue(saveConf), p.GetValue(viewImg), p.GetValue(duration),
                p.GetResult(serve) is null ? null : WebView.ServeOptions.Parse(p.GetValue(serve),
                    p.GetValue(serveToken) ?? Environment.GetEnvironmentVariable(WebView.ServeOptions.TokenVariable)));
            return await ExecuteAsync(settings);
        }, token));
        return command;
    }

    /// <summary>Everything `run` needs, after the config file and flags are merged.</summary>
    private sealed record RunSettings(string Weights, string[] Sources, DetectorOptions Detector, PipelineOptions Pipeline, string CamMethod,
        string CamTarget, string Layers, bool Fuse, string? Save, string? SaveJson, string? SaveTxt, bool SaveConf, bool ViewImg, double Duration,
        WebView.ServeOptions? Serve);

    private static async Task<int> ExecuteAsync(RunSettings s)
    {
        // Signals first: a Ctrl+C during the model load must also end cleanly.
        using var stop = new CancellationTokenSource();
        using var abort = new CancellationTokenSource();
        void Interrupt(string what)
        {
            if (!stop.IsCancellationRequested)
            {
                Console.Error.WriteLine($"{what}: finishing the outputs (again to stop at once)");
                stop.Cancel();
            }
            else
            {
                abort.Cancel();
            }
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; Interrupt("interrupted"); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; Interrupt("terminated"); });
        var sources = SourceCatalog.ResolveAll(s.Sources, s.Pipeline.Live, Log);
        if (s.Save is null && s.SaveJson is null && s.SaveTxt is null && !s.ViewImg && s.Serve is null)
            Console.Error.WriteLine("note: no --save, --save-json or --save-txt: results are counted but not written");
        var names = sources.Select(e => e.Name).ToArray();
        var shortNames = SourceCatalog.ShortNames(sources);
        bool IsImage(int i) => !sources[i].IsLive && ImageFiles.Extensions.Contains(Path.GetExtension(names[i]));
        // Every output location is checked before anything is loaded or written.
        var savePaths = s.Save is null ? null : OutputPaths.Plan(s.Save, names, IsImage, shortNames);
        foreach (var path in savePaths ?? []) OutputLocation.EnsureFile(path, "--save");
        // --save-json: one file, or a folder of <name>.jsonl (a path ending in '/', an existing folder, or no extension with several sources).
        string? jsonFolder = s.SaveJson is { } sj && (sj.EndsWith('/') || Directory.Exists(sj) || (sources.Count > 1 && Path.GetExtension(sj).Length == 0)) ? sj : null;
        if (jsonFolder is not null) OutputLocation.EnsureFolder(jsonFolder, "--save-json");
        else if (s.SaveJson is not null) OutputLocation.EnsureFile(s.SaveJson, "--save-json");
        if (s.SaveTxt is not null) OutputLocation.EnsureFolder(s.SaveTxt, "--save-txt");

        using var model = YoloModel.Load(s.Weights, s.Fuse);
        using var detector = new Detector(model, s.Detector);
        DetectionOptions.NoteImageSize(detector);
        var explainers = new ExplainerCache(model);
        var initial = new StreamControls
        {
            Method = CamMethod.Parse(s.CamMethod).Name, Target = CamTarget.Parse(s.CamTarget).Name, Layers = s.Layers.Trim().ToLowerInvariant(),
            TopK = s.Pipeline.TopK, CamEvery = s.Pipeline.CamEvery, Alpha = s.Pipeline.Alpha,
        };
        explainers.Get(initial); // checks --layers against the model before anything runs
        var controls = new ControlBoard(initial, sources.Count, model.Names.Count, explainers.Get);
        var pipeline = new AnalysisPipeline(detector, null, s.Pipeline) { Log = Log, Controls = controls };

        var fps = new double[sources.Count];
        pipeline.SourceOpened += (i, src) => fps[i] = src.Fps;
        pipeline.Statistics.ExpectedFrames = ExpectedFrames(sources, s.Pipeline.VidStride);

        bool closedByWindow = false;
        var sinks = new List<IFrameSink>();
        VideoSink? video = null;
        WebView.StreamTile[]? tiles = null;
        WebView.WebServer? server = null;
        try
        {
            if (savePaths is { } paths)
            {
                video = new VideoSink(i => paths[i], i => fps[i], IsImage, s.Pipeline.VidStride);
                sinks.Add(video);
                if (Enumerable.Range(0, names.Length).Any(i => !IsImage(i))) Console.Error.WriteLine(VideoEncoders.Notice);
            }
            if (jsonFolder is not null) sinks.Add(JsonLinesSink.PerSource(i => Path.Combine(jsonFolder, shortNames[i] + ".jsonl"), i => names[i]));
            else if (s.SaveJson is not null) sinks.Add(new JsonLinesSink(s.SaveJson, i => names[i]));
            if (s.SaveTxt is not null) sinks.Add(new LabelFileSink(s.SaveTxt, i => names[i], IsImage, s.SaveConf));
            if (s.ViewImg)
            {
                sinks.Add(new WindowSink(i => $"StreamAnalyzer - {names[i]}", () =>
                {
                    Log("window closed (q/Esc): finishing the outputs");
                    closedByWindow = true;
                    stop.Cancel();
                }, () => controls.Apply(new ControlPatch { Heatmap = !controls.Defaults.Heatmap })));
            }
            if (s.Serve is not null)
            {
                tiles = sources.Select((e, i) => new WebView.StreamTile(i, shortNames[i], e.Name)).ToArray();
                sinks.Add(new WebView.TileSink(tiles));
                string description = $"{model.Family.DisplayName} {Path.GetFileName(s.Weights)} · {detector.LetterboxSettings.Width}px · {detector.Backend.ToString().ToLowerInvariant()}";
                server = await WebView.WebServer.StartAsync(new WebView.WebViewContext(tiles, controls, pipeline.Statistics, model.Names, description,
                    detector.Options.Nms!.ConfThreshold!.Value), s.Serve);
                Log($"web view: {server.Url}" + (s.Serve.Token is null ? "" : " (asks for the token)"));
            }
        }
        catch
        {
            foreach (var sink in sinks) sink.Dispose();
            if (server is not null) await server.DisposeAsync();
            throw;
        }


        bool timed = false;
        if (s.Duration > 0)
        {
            _ = Task.Delay(TimeSpan.FromSeconds(s.Duration), stop.Token).ContinueWith(t =>
            {
                if (t.IsCompletedSuccessfully)
                {
                    timed = true;
                    stop.Cancel();
                }
            }, TaskScheduler.Default);
        }
        var run = pipeline.RunAsync(sources, sinks, stop.Token, abort.Token);
        try
        {
            await ProgressDisplay.FollowAsync(run, pipeline.Statistics, names);
            await run;
        }
        finally
        {
            if (server is not null) await server.DisposeAsync();
        }

        // Ctrl+C or SIGTERM is an interruption (130); --duration and q/Esc in the window are normal ends.
        bool interrupted = stop.IsCancellationRequested && !timed && !closedByWindow;
        Summary(pipeline, detector, video, s, interrupted);
        foreach (var error in pipeline.Statistics.SourceErrors) Console.Error.WriteLine($"error: {error}");
        if (interrupted) return 130;
        return pipeline.Statistics.SourceErrors.IsEmpty ? 0 : CommandRunner.Failure;
    }

    private static void Log(string message) =>
        Console.Error.WriteLine($"[{DateTime.Now.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}] {message}");

    private static long? ExpectedFrames(IReadOnlyList<SourceCatalog.Entry> sources, int stride)
    {
        if (sources.Count > 64 || sources.Any(e => e.IsLive)) return null; // live: no end; many files: probing would delay the start
        long total = 0;
        foreach (var entry in sources)
        {
            try
            {
                using var source = entry.Open();
                if (source.FrameCount is not long n) return null;
                total += (n + stride - 1) / stride;
            }
            catch (UserInputException)
            {
                // Reported when the pipeline reaches it.
            }
        }
        return total;
    }

    private static void Summary(AnalysisPipeline pipeline, Detector detector, VideoSink? video, RunSettings s, bool stopped)
    {
        var stats = pipeline.Statistics;
        var table = new Table().Border(TableBorder.Simple).AddColumns("", "");
        table.AddRow("frames", stats.Processed.ToString(CultureInfo.InvariantCulture) + (stopped ? " (stopped early)" : ""));
        table.AddRow("detections", stats.Detections.ToString(CultureInfo.InvariantCulture));
        table.AddRow("explained frames", stats.Explained.ToString(CultureInfo.InvariantCulture));
        if (stats.Dropped > 0) table.AddRow("dropped frames", stats.Dropped.ToString(CultureInfo.InvariantCulture));
        if (stats.Reconnects > 0) table.AddRow("reconnections", stats.Reconnects.ToString(CultureInfo.InvariantCulture));
        string rates = $"{stats.Fps.ToString("0.0", CultureInfo.InvariantCulture)} fps";
        // Start-up (sources opened, the inference session built, the first pass) weighs on short clips: shown apart.
        if (stats.FirstFrameAt is { } first && stats.FpsAfterFirstFrame is { } steady)
            rates += $"; first frame after {first.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s, then {steady.ToString("0.0", CultureInfo.InvariantCulture)} fps";
        table.AddRow("wall time", $"{stats.Elapsed.TotalSeconds.ToString("0.0", CultureInfo.InvariantCulture)} s ({rates})");
        table.AddRow("inference", $"{detector.Backend.ToString().ToLowerInvariant()}, {pipeline.Workers} worker(s)");
        table.AddRow("mean ms per frame", string.Join(", ", stats.MeanStageMs.Select(kv => $"{kv.Key} {kv.Value.ToString("0.0", CultureInfo.InvariantCulture)}")));
        foreach (var path in video?.Outputs ?? []) table.AddRow("output", Markup.Escape(path));
        if (s.SaveJson is not null) table.AddRow("json lines", Markup.Escape(Path.GetFullPath(s.SaveJson)));
        if (s.SaveTxt is not null) table.AddRow("labels", Markup.Escape(Path.GetFullPath(s.SaveTxt)));
        AnsiConsole.Write(table);
    }
}
