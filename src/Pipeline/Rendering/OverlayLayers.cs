namespace StreamAnalyzer.Pipeline.Rendering;

/// <summary>What is drawn over a frame. Each output asks for its own set, so e.g. the recording can leave out the heatmap the live view shows.</summary>
[Flags]
public enum OverlayLayers
{
    /// <summary>The picture alone.</summary>
    None = 0,

    /// <summary>The explanation heatmap (and its colour scale).</summary>
    Heatmap = 1,

    /// <summary>Boxes and labels.</summary>
    Boxes = 2,

    /// <summary>The fps/latency line.</summary>
    Status = 4,

    /// <summary>Everything.</summary>
    All = Heatmap | Boxes | Status,
}
