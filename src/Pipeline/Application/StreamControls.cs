namespace StreamAnalyzer.Pipeline.Application;

/// <summary>
/// The settings of one stream that may change while the pipeline runs (from the web page, its JSON API or the live
/// window's keys). Immutable: a change swaps in a new instance, which frames pick up from the next one on.
/// </summary>
public sealed record StreamControls
{
    /// <summary>CAM method (gradcam, odam, ...).</summary>
    public string Method { get; init; } = "gradcam";

    /// <summary>Layers explained: auto, neck, or indices / submodule paths.</summary>
    public string Layers { get; init; } = "auto";

    /// <summary>What is differentiated: logit, prob or conf.</summary>
    public string Target { get; init; } = "logit";

    /// <summary>Detections explained per frame.</summary>
    public int TopK { get; init; } = 3;

    /// <summary>Explain every Nth processed frame of the stream (0: never).</summary>
    public int CamEvery { get; init; }

    /// <summary>Confidence threshold; null: the one the run started with.</summary>
    public float? ConfThreshold { get; init; }

    /// <summary>Class ids kept; null or empty: the run's setting.</summary>
    public IReadOnlyList<int>? Classes { get; init; }

    /// <summary>Draw the heatmap.</summary>
    public bool Heatmap { get; init; } = true;

    /// <summary>Heatmap opacity at its hottest, 0-1.</summary>
    public double Alpha { get; init; } = 0.5;
}
