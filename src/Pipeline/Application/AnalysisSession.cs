using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Rendering;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Sinks;
using StreamAnalyzer.Pipeline.Sources;
using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.Pipeline.Application;

/// <summary>
/// One run, built from a <see cref="RunPlan"/>: the sources and their names, the model and detector, each stream's live
/// controls, the pipeline and the file outputs. The command line, the live window, the web server and other hosts all
/// drive a run through this: add outputs, <see cref="RunAsync"/>, change <see cref="Controls"/>, read
/// <see cref="Statistics"/>, stop with the tokens given to <see cref="RunAsync"/>.
/// </summary>
public sealed class AnalysisSession : IDisposable
{
    private readonly List<IFrameSink> _sinks = [];
    private readonly double[] _fps;
    private bool _started;

    private AnalysisSession(RunPlan plan, IReadOnlyList<SourceCatalog.Entry> sources, YoloModel model, Detector detector, Action<string>? log, long? expectedFrames)
    {
        Plan = plan;
        Sources = sources;
        Names = sources.Select(e => e.Name).ToArray();
        ShortNames = SourceCatalog.ShortNames(sources);
        Model = model;
        Detector = detector;
        _fps = new double[sources.Count];
        var explainers = new ExplainerCache(model, plan.Perturbation, plan.FaithfulnessSteps);
        explainers.Get(plan.Controls); // the method, target and layers are checked against the model before anything runs
        Controls = new ControlBoard(plan.Controls, sources.Count, model.Names.Count, explainers.Get);
        Pipeline = new AnalysisPipeline(detector, null, WithBatch(plan.Pipeline, sources)) { Log = log, Controls = Controls };
        Pipeline.SourceOpened += (i, source) => _fps[i] = source.Fps;
        Statistics.ExpectedFrames = expectedFrames;
    }

    /// <summary>What the run was built from.</summary>
    public RunPlan Plan { get; }

    /// <summary>The sources, in order.</summary>
    public IReadOnlyList<SourceCatalog.Entry> Sources { get; }

    /// <summary>Each source's path or URL.</summary>
    public IReadOnlyList<string> Names { get; }

    /// <summary>Each source's short, unique name (outputs, the web page).</summary>
    public IReadOnlyList<string> ShortNames { get; }

    /// <summary>The network.</summary>
    public YoloModel Model { get; }

    /// <summary>The detector.</summary>
    public Detector Detector { get; }

    /// <summary>Each stream's live settings.</summary>
    public ControlBoard Controls { get; }

    /// <summary>The pipeline (its worker count is known once running).</summary>
    public AnalysisPipeline Pipeline { get; }

    /// <summary>The run's counters.</summary>
    public PipelineStatistics Statistics => Pipeline.Statistics;

    /// <summary>The annotated-video output, when asked for.</summary>
    public VideoSink? Video { get; private set; }

    /// <summary>The JSON lines file or folder, when asked for.</summary>
    public string? JsonOutput { get; private set; }

    /// <summary>True when source i is a still image.</summary>
    public bool IsImage(int i) => Sources[i].IsImage;

    /// <summary>
    /// Resolves the sources, checks every output location, loads the model and opens the file outputs the plan asks
    /// for - in that order, so a bad path fails before the (slow) model load.
    /// </summary>
    /// <exception cref="UserInputException">A source, output, checkpoint or setting is unusable.</exception>
    public static AnalysisSession Open(RunPlan plan, Action<string>? log = null)
    {
        var sources = SourceCatalog.ResolveAll(plan.Sources, plan.Pipeline.Live, log);
        var names = sources.Select(e => e.Name).ToArray();
        var shortNames = SourceCatalog.ShortNames(sources);
        var savePaths = plan.Save is null ? null : OutputPaths.Plan(plan.Save, names, i => sources[i].IsImage, shortNames);
        foreach (var path in savePaths ?? []) OutputLocation.EnsureFile(path, "--save");
        // JSON lines: one file, or a folder of <name>.jsonl (a path ending in '/', an existing folder, or no extension with several sources).
        string? jsonFolder = plan.SaveJson is { } sj && (sj.EndsWith('/') || Directory.Exists(sj) || (sources.Count > 1 && Path.GetExtension(sj).Length == 0)) ? sj : null;
        if (jsonFolder is not null) OutputLocation.EnsureFolder(jsonFolder, "--save-json");
        else if (plan.SaveJson is not null) OutputLocation.EnsureFile(plan.SaveJson, "--save-json");
        if (plan.SaveTxt is not null) OutputLocation.EnsureFolder(plan.SaveTxt, "--save-txt");
        string JsonFileOf(int i) => Path.Combine(jsonFolder!, shortNames[i] + ".jsonl");
        var jsonFiles = jsonFolder is not null ? sources.Select((_, i) => JsonFileOf(i)) : plan.SaveJson is { } jsonFile ? [jsonFile] : [];
        OutputClashes.Check(names, (savePaths ?? []).Select(p => ("--save", p)).Concat(jsonFiles.Select(p => ("--save-json", p))));

        // Counting the files' frames (for the progress bar) opens each one: done on another thread while the model loads.
        var expectedFrames = Task.Run(() => ExpectedFrames(sources, plan.Pipeline.VidStride));
        var model = YoloModel.Load(plan.Weights, plan.Fuse);
        Detector? detector = null;
        AnalysisSession? session = null;
        try
        {
            detector = new Detector(model, plan.Detector);
            session = new AnalysisSession(plan, sources, model, detector, log, expectedFrames.GetAwaiter().GetResult());
            if (savePaths is { } paths)
            {
                session.Video = new VideoSink(i => paths[i], i => session._fps[i], session.IsImage, plan.Pipeline.VidStride)
                {
                    Layers = plan.SaveHeatmap ? OverlayLayers.All : OverlayLayers.All & ~OverlayLayers.Heatmap,
                    EncoderPreset = plan.SavePreset,
                };
                session._sinks.Add(session.Video);
            }
            if (jsonFolder is not null)
                session._sinks.Add(JsonLinesSink.PerSource(JsonFileOf, i => names[i], i => sources[i].Label));
            else if (plan.SaveJson is not null)
                session._sinks.Add(new JsonLinesSink(plan.SaveJson, i => names[i], i => sources[i].Label));
            session.JsonOutput = jsonFolder ?? plan.SaveJson;
            if (plan.SaveTxt is not null)
            {
                var stems = SourceCatalog.ShortNames(sources, asSpelt: true);
                session._sinks.Add(new LabelFileSink(plan.SaveTxt, i => stems[i], session.IsImage, plan.SaveConf));
            }
            return session;
        }
        catch
        {
            if (session is not null) session.Dispose();
            else
            {
                detector?.Dispose();
                model.Dispose();
            }
            throw;
        }
    }

    /// <summary>Adds an output (a window, the web view...). The session disposes it when the run ends.</summary>
    public void Add(IFrameSink sink)
    {
        if (_started) throw new InvalidOperationException("outputs are added before the run starts");
        _sinks.Add(sink);
    }

    /// <summary>
    /// Runs every source through the pipeline into the outputs. <paramref name="stop"/> stops reading and lets what
    /// was read reach the outputs; <paramref name="abort"/> stops at once. Either way every output is finished.
    /// </summary>
    public Task RunAsync(CancellationToken stop, CancellationToken abort = default)
    {
        if (_started) throw new InvalidOperationException("a session runs once");
        _started = true;
        return Pipeline.RunAsync(Sources, _sinks, stop, abort);
    }

    // Batch 0 is automatic: several live streams share a forward pass (one frame of each, up to 4, collected until the
    // batch deadline so a slow camera never holds the others), anything else runs frame by frame.
    private static PipelineOptions WithBatch(PipelineOptions options, IReadOnlyList<SourceCatalog.Entry> sources)
    {
        if (options.Batch > 0) return options;
        int live = sources.Count(s => s.IsLive);
        return options with { Batch = live > 1 ? Math.Min(live, 4) : 1 };
    }

    private static long? ExpectedFrames(IReadOnlyList<SourceCatalog.Entry> sources, int stride)
    {
        if (sources.Count > 64 || sources.Any(e => e.IsLive)) return null; // live: no end; many files: probing would delay the start
        long total = 0;
        foreach (var entry in sources)
        {
            try
            {
                if (SourceCatalog.CountFrames(entry) is not long n) return null;
                total += (n + stride - 1) / stride;
            }
            catch (UserInputException)
            {
                // Reported when the pipeline reaches it.
            }
        }
        return total;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        // A run disposes its outputs when it ends; outputs of a session that never ran are disposed here.
        if (!_started)
            foreach (var sink in _sinks) sink.Dispose();
        Detector.Dispose();
        Model.Dispose();
    }
}
