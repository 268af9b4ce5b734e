using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers;

namespace StreamAnalyzer.WebView;

/// <summary>The explanation maps of a stream's last explained frame.</summary>
/// <param name="Frame">Frame index.</param>
/// <param name="Explanations">Per detection, its maps (input resolution).</param>
/// <param name="Geometry">Where the frame sat in the model input.</param>
/// <param name="Method">The CAM method.</param>
public sealed record ExplainedMaps(long Frame, IReadOnlyList<DetectionExplanation> Explanations, LetterboxGeometry Geometry, string Method)
{
    /// <summary>That frame's picture as JPEG, once encoded.</summary>
    public byte[]? Picture { get; init; }

    /// <summary>When it was published (<see cref="Environment.TickCount64"/>).</summary>
    public long PublishedAt { get; init; }
}
