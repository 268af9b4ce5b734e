using System.CommandLine;
using System.Globalization;
using System.Runtime.InteropServices;
using Spectre.Console;
using StreamAnalyzer.Pipeline.Application;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers.Faithfulness;
using StreamAnalyzer.Pipeline.Explainers.Methods;
using StreamAnalyzer.Pipeline.Explainers.Perturbation;
using StreamAnalyzer.Pipeline.Explainers.Targets;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Sinks;
using StreamAnalyzer.Pipeline.Sources;
using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>
/// <c>stream-analyzer run</c>: the streaming pipeline on videos, images, folders, source lists, cameras and streams, with
/// explanations every Nth frame, writing annotated video, JSON lines and label files, shown in a window or a web page.
/// It parses the flags into a <see cref="RunPlan"/>; an <see cref="AnalysisSession"/> builds and runs it.
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
        var batch = new Option<int>("--batch") { Description = "frames per forward pass, across sources (0: one per live stream, up to 4, with several live streams; else 1)", DefaultValueFactory = _ => 0 }.AtLeast(0);
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
        var camFaithfulness = new Option<bool>("--cam-faithfulness")
        {
            Description = $"score every explained detection's map by deletion and insertion AUC ({FaithfulnessEvaluator.CheapSteps} steps each, {2 * (FaithfulnessEvaluator.CheapSteps + 1)} extra forward passes per map): in the JSON lines and the overlay",
        };
        var seed = CommonOptions.Seed();
        var samples = CommonOptions.Samples();
        var perturbationBatch = CommonOptions.PerturbationBatch();
        var noOverlay = new Option<bool>("--no-overlay") { Description = "no fps/latency text on the frames" };
        var save = new Option<string?>("--save") { Description = "annotated output: an .mp4 for one video source, else a folder (one file per source)" };
        var saveHeatmap = new Option<bool>("--save-heatmap") { Description = "draw the heatmap in --save outputs (--save-heatmap false: boxes only; the window and web view keep theirs)", DefaultValueFactory = _ => true };
        var savePreset = new Option<string>("--save-preset")
        {
            Description = $"x264 preset of --save videos: auto (ultrafast with up to {EncoderPresets.FewCores} cores, where the encoder takes CPU from inference; superfast above), or ultrafast ... veryslow (slower: smaller files, more CPU)",
            DefaultValueFactory = _ => "auto",
        }.OneOf([.. EncoderPresets.Names]);
        var saveJson = new Option<string?>("--save-json") { Description = "one JSON line per processed frame: a file, or a folder (ending in /) of <name>.jsonl per source" };
        var saveTxt = new Option<string?>("--save-txt") { Description = "folder for yolov7-style label files" };
        var saveConf = new Option<bool>("--save-conf") { Description = "add the confidence to --save-txt lines" };
        var viewImg = new Option<bool>("--view-img") { Description = "show a live window (q/Esc quit, space pause, h heatmap on/off)" };
        var view = new Option<string>("--view") { Description = "how maps are shown: overlay (blended where hot) or side-by-side (frame | heatmap)", DefaultValueFactory = _ => "overlay" }
            .OneOf("overlay", "side-by-side");
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
            camTarget, topK, layers, alpha, noOverlay, save, saveHeatmap, savePreset, saveJson, saveTxt, saveConf, config, noFuse,
            viewImg, view, serve, serveToken, duration, maxStaleness, openTimeout, stallTimeout, maxReconnects,
            camFaithfulness, seed, samples, perturbationBatch,
        };
        detection.AddTo(command, 2);
        command.SetAction((p, token) => CommandRunner.RunAsync(async _ =>
        {
            var pipeline = new PipelineOptions
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
            };
            var controls = new StreamControls
            {
                Method = CamMethod.Parse(p.GetValue(camMethod)!).Name, Target = CamTarget.Parse(p.GetValue(camTarget)!).Name,
                Layers = p.GetValue(layers)!.Trim().ToLowerInvariant(), TopK = pipeline.TopK, CamEvery = pipeline.CamEvery, Alpha = pipeline.Alpha,
            };
            var plan = new RunPlan(p.GetValue(weights)!.FullName, p.GetValue(source)!, detection.Read(p), pipeline, controls)
            {
                Fuse = !p.GetValue(noFuse), Save = p.GetValue(save), SaveHeatmap = p.GetValue(saveHeatmap), SavePreset = p.GetValue(savePreset), SaveJson = p.GetValue(saveJson),
                SaveTxt = p.GetValue(saveTxt), SaveConf = p.GetValue(saveConf),
                Perturbation = new PerturbationOptions(p.GetValue(seed), p.GetValue(samples), p.GetValue(perturbationBatch)).Validated(),
                FaithfulnessSteps = p.GetValue(camFaithfulness) ? FaithfulnessEvaluator.CheapSteps : 0,
            };
            // Options that shape an output nobody asked for are said to be ignored, not dropped silently.
            bool Given(Option option) => p.GetResult(option) is { Implicit: false };
            var notes = new List<string>();
            if (plan.Save is null && Given(savePreset)) notes.Add("note: --save-preset sets the encoder of --save videos; ignored without --save");
            if (plan.Save is null && Given(saveHeatmap)) notes.Add("note: --save-heatmap applies to --save outputs; ignored without --save");
            if (plan.SaveTxt is null && plan.SaveConf) notes.Add("note: --save-conf adds confidences to --save-txt files; ignored without --save-txt");
            if (p.GetResult(serve) is null && Given(serveToken)) notes.Add("note: --serve-token guards the --serve web view; ignored without --serve");
            var serving = p.GetResult(serve) is null ? null : WebView.ServeOptions.Parse(p.GetValue(serve),
                p.GetValue(serveToken) ?? Environment.GetEnvironmentVariable(WebView.ServeOptions.TokenVariable));
            return await ExecuteAsync(plan, p.GetValue(viewImg), serving, p.GetValue(duration), notes);
        }, token));
        return command;
    }

    private static async Task<int> ExecuteAsync(RunPlan plan, bool viewImg, WebView.ServeOptions? serve, double duration, IReadOnlyList<string> notes)
    {
        // Signals first: a Ctrl+C during the model load must also end cleanly.
        using var stop = new CancellationTokenSource();
        using var abort = new CancellationTokenSource();
        void Interrupt(string what)
        {
            if (!stop.IsCancellationRequested)
            {
                Console.Error.WriteLine($"{what}: finishing the outputs, frames already read without explanations (again to stop at once)");
                stop.Cancel();
            }
            else if (!abort.IsCancellationRequested)
            {
                Console.Error.WriteLine($"{what} again: stopping now");
                abort.Cancel();
            }
        }
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; Interrupt("interrupted"); });
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; Interrupt("terminated"); });
        if (viewImg) WindowSink.EnsureDisplay();
        // A perturbation map being computed when the run stops is given up (the frame is written without it).
        plan = plan with { Perturbation = plan.Perturbation with { Cancellation = stop.Token } };
        using var session = AnalysisSession.Open(plan, Log);
        // After the sources, outputs and model were accepted: a refused run shows its error alone.
        foreach (var note in notes) Console.Error.WriteLine(note);
        if (plan.Save is null && plan.SaveJson is null && plan.SaveTxt is null && !viewImg && serve is null)
            Console.Error.WriteLine("note: no --save, --save-json or --save-txt: results are counted but not written");
        DetectionOptions.NoteImageSize(session.Detector);
        bool closedByWindow = false;
        if (viewImg)
        {
            session.Add(new WindowSink(i => $"StreamAnalyzer - {session.Names[i]}", () =>
            {
                Log("window closed (q/Esc): finishing the outputs");
                closedByWindow = true;
                stop.Cancel();
            }));
        }
        await using var server = serve is null ? null : await StartWebViewAsync(session, serve);
        // After the web view is listening: a port in use is the run's only message.
        if (session.Video is not null && Enumerable.Range(0, session.Sources.Count).Any(i => !session.IsImage(i))) Console.Error.WriteLine(VideoEncoders.Notice(plan.Save));

        bool timed = false;
        if (duration > 0)
        {
            _ = Task.Delay(TimeSpan.FromSeconds(duration), stop.Token).ContinueWith(t =>
            {
                if (t.IsCompletedSuccessfully)
                {
                    timed = true;
                    stop.Cancel();
                }
            }, TaskScheduler.Default);
        }
        var run = session.RunAsync(stop.Token, abort.Token);
        await ProgressDisplay.FollowAsync(run, session.Statistics, session.Sources.Select(e => e.Shown).ToArray());
        await run;

        // Ctrl+C or SIGTERM is an interruption (130); --duration and q/Esc in the window are normal ends.
        bool interrupted = stop.IsCancellationRequested && !timed && !closedByWindow;
        Summary(session, interrupted);
        foreach (var error in session.Statistics.SourceErrors) Console.Error.WriteLine($"error: {error}");
        if (interrupted) return 130;
        return session.Statistics.SourceErrors.IsEmpty ? 0 : CommandRunner.Failure;
    }

    private static async Task<WebView.WebServer> StartWebViewAsync(AnalysisSession session, WebView.ServeOptions serve)
    {
        var tiles = session.Sources.Select((e, i) => new WebView.StreamTile(i, session.ShortNames[i], e.Name)).ToArray();
        var sink = new WebView.TileSink(tiles);
        session.Add(sink);
        var d = session.Detector;
        string model = $"{session.Model.Family.DisplayName} {Path.GetFileName(session.Plan.Weights)} · {d.LetterboxSettings.Width}px · {d.Backend.ToString().ToLowerInvariant()}";
        var server = await WebView.WebServer.StartAsync(new WebView.WebViewContext(tiles, session.Controls, session.Statistics, session.Model.Names, model,
            d.Options.Nms!.ConfThreshold!.Value), serve);
        Log($"web view: {server.Url}" + (serve.Token is null ? "" : " (asks for the token)"));
        return server;
    }

    private static void Log(string message) =>
        Console.Error.WriteLine($"[{DateTime.Now.ToString("HH:mm:ss", CultureInfo.InvariantCulture)}] {message}");

    private static void Summary(AnalysisSession session, bool stopped)
    {
        var stats = session.Statistics;
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
        table.AddRow("inference", $"{session.Detector.Backend.ToString().ToLowerInvariant()}, {session.Pipeline.Workers} worker(s)");
        table.AddRow("mean ms per frame", string.Join(", ", stats.MeanStageMs.Select(kv => $"{kv.Key} {kv.Value.ToString("0.0", CultureInfo.InvariantCulture)}")));
        foreach (var path in session.Video?.Outputs ?? []) table.AddRow("output", Markup.Escape(path));
        // Only what was written: a run whose sources never gave a frame has no outputs to point at.
        if (session.JsonOutput is { } json && (File.Exists(json) || Directory.Exists(json))) table.AddRow("json lines", Markup.Escape(Path.GetFullPath(json)));
        if (session.Plan.SaveTxt is { } labels && Directory.Exists(labels)) table.AddRow("labels", Markup.Escape(Path.GetFullPath(labels)));
        AnsiConsole.Write(table);
    }
}
