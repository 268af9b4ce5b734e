namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>A module that can fold its inference-time arithmetic into fewer operations (upstream's <c>fuse()</c>).</summary>
public interface IFusable
{
    /// <summary>Folds BatchNorm, re-parameterisation branches or implicit knowledge into convolutions, in place.</summary>
    void Fuse();
}
