namespace StreamAnalyzer.Pipeline.Model;

/// <summary>One row of the network (one entry of the config's backbone + head).</summary>
/// <param name="Index">Layer index, as in state keys (<c>model.&lt;index&gt;...</c>).</param>
/// <param name="From">Input layers (absolute indices; the previous layer for <c>-1</c>).</param>
/// <param name="Module">Module type as the config names it, e.g. <c>Conv</c>, <c>nn.Upsample</c>, <c>IDetect</c>.</param>
/// <param name="OutChannels">Output channels (0 for the detect head).</param>
/// <param name="Stride">Input pixels per output cell (e.g. 8 for P3), measured at build time; 0 for the head.</param>
/// <param name="FeedsHead">Detection level (0 = P3) this layer feeds into the head, or null.</param>
public sealed record LayerInfo(int Index, int[] From, string Module, long OutChannels, int Stride, int? FeedsHead)
{
    /// <summary>Pyramid level name of the output, e.g. "P3" for stride 8.</summary>
    public string Level => Stride > 0 ? $"P{(int)Math.Round(Math.Log2(Stride))}" : "-";
}
