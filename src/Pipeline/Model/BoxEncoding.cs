namespace StreamAnalyzer.Pipeline.Model;

/// <summary>How a head encodes boxes before they are decoded into the prediction.</summary>
public enum BoxEncoding
{
    /// <summary>YOLOv5/YOLOv7: sigmoid offsets from a grid cell, scaled anchors (<c>(2s)^2 x anchor</c>).</summary>
    AnchorOffsets,

    /// <summary>Ultralytics: distances to the four sides as distributions over <c>reg_max</c> bins (DFL), no anchors.</summary>
    SideDistributions,
}
