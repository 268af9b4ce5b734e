namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>How frames move through the pipeline and when they are explained.</summary>
public sealed record PipelineOptions
{
    /// <summary>Frames per forward pass (<c>--batch</c>), across sources (at least 1 here; 0 on the command line means automatic, see <see cref="Application.AnalysisSession"/>).</summary>
    public int Batch { get; init; } = 1;

    /// <summary>How long a partial batch waits for more frames.</summary>
    public TimeSpan BatchTimeout { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Process every Nth frame of a file (<c>--vid-stride</c>).</summary>
    public int VidStride { get; init; } = 1;

    /// <summary>
    /// Batches analysed at once (<c>--workers</c>), each with its share of the intra-op threads; 0 = automatic: two
    /// for files on ONNX Runtime (throughput), one for live sources (latency) and on TorchSharp.
    /// </summary>
    public int Workers { get; init; }

    /// <summary>Explain every Nth processed frame of each source (<c>--cam-every</c>, 0 = never).</summary>
    public int CamEvery { get; init; }

    /// <summary>Keep showing the last map between explained frames (<c>--cam-hold</c>).</summary>
    public bool CamHold { get; init; } = true;

    /// <summary>Detections explained per frame (<c>--top-k</c>).</summary>
    public int TopK { get; init; } = 3;

    /// <summary>Heatmap opacity.</summary>
    public double Alpha { get; init; } = 0.5;

    /// <summary>Show the frame and its heatmap side by side (frame | heatmap) instead of blended (<c>--view side-by-side</c>).</summary>
    public bool SideBySide { get; init; }

    /// <summary>Draw the fps/latency overlay.</summary>
    public bool Overlay { get; init; } = true;

    /// <summary>Capacity of the channels between stages (files wait when full: lossless).</summary>
    public int QueueCapacity { get; init; } = 8;

    /// <summary>Live frames older than this when they reach inference are dropped (zero: no limit).</summary>
    public TimeSpan MaxStaleness { get; init; } = TimeSpan.Zero;

    /// <summary>How live sources are opened and reconnected.</summary>
    public Sources.LiveSourceOptions Live { get; init; } = new();

    /// <summary>File sources read at the same time (so batches can mix sources).</summary>
    public int MaxOpenSources { get; init; } = 4;

    /// <summary>
    /// The number given to the first frame of each source (a camera resumed on another machine goes on from the last
    /// number its results reached); a file source skips that many frames first, so numbers keep meaning positions.
    /// </summary>
    public long FirstFrame { get; init; }

    /// <summary>
    /// The lowest timestamp a live source's frames may get, in milliseconds (a camera resumed on another machine: its
    /// last result's time, so that its records' times never go backwards).
    /// </summary>
    public double FirstTimestampMs { get; init; }

    /// <summary>
    /// The moment a live source's timeline counts from (null: the run's start). A camera resumed on another machine
    /// goes on from its last result's time plus the time since, the model's loading included.
    /// </summary>
    public DateTimeOffset? TimelineOrigin { get; init; }
}
