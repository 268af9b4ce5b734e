namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>Where a map is taken: a layer's output, or the output of one of its submodules (<c>102.rbr_dense</c>).</summary>
public sealed record ExplainTarget(int Layer, string? Submodule = null)
{
    /// <summary>"74" or "102.rbr_dense": used in file names and JSON.</summary>
    public string Name => Submodule is null ? Layer.ToString() : $"{Layer}.{Submodule}";
}
