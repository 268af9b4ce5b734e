using StreamAnalyzer.Pipeline.Application;
using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.WebView;

/// <summary>What the web view shows and drives: the run's streams, their live settings and its counters.</summary>
/// <param name="Tiles">One tile per stream, in source order.</param>
/// <param name="Controls">The live settings (changed by the page and the API).</param>
/// <param name="Statistics">The run's counters.</param>
/// <param name="ClassNames">The model's class names.</param>
/// <param name="Model">A one-line description of the model (family, checkpoint, input size, backend).</param>
/// <param name="DefaultConfidence">The confidence threshold the run started with (what "conf: null" means).</param>
public sealed record WebViewContext(IReadOnlyList<StreamTile> Tiles, ControlBoard Controls, PipelineStatistics Statistics,
    IReadOnlyList<string> ClassNames, string Model, float DefaultConfidence)
{
    /// <summary>The tile a route names: its index or its name.</summary>
    public StreamTile? Find(string id) =>
        int.TryParse(id, out int i) && (uint)i < (uint)Tiles.Count ? Tiles[i] : Tiles.FirstOrDefault(t => t.Name.Equals(id, StringComparison.OrdinalIgnoreCase));
}
