namespace StreamAnalyzer.Pipeline.Explainers.Perturbation;

/// <summary>
/// How the perturbation methods (Score-CAM, D-RISE, LIME) and the faithfulness scores run the model again.
/// </summary>
/// <param name="Seed">Seed of the random masks and samples: the same seed gives the same maps.</param>
/// <param name="Samples">
/// D-RISE: random masks per image; LIME: perturbed samples per image; Score-CAM: the cap on activation channels
/// used as masks (the channels with the highest mean activation inside the detection's box).
/// 0 takes each method's default (<see cref="SamplesFor"/>).
/// </param>
/// <param name="BatchSize">Perturbed images per forward pass.</param>
/// <param name="Progress">Told the share done (0 to 1) as the perturbed images are scored; null for no reports.</param>
/// <param name="Cancellation">
/// Ends the scoring between two batches with <see cref="OperationCanceledException"/>: a run that is stopping does not
/// wait for a map that can take seconds (the pipeline then writes the frame without it).
/// </param>
public sealed record PerturbationOptions(int Seed = 0, int Samples = 0, int BatchSize = 16, IProgress<double>? Progress = null,
    CancellationToken Cancellation = default)
{
    /// <summary>The defaults: seed 0, each method's own sample count, batches of 16.</summary>
    public static PerturbationOptions Default { get; } = new();

    /// <summary>The sample count to use where the method's default is <paramref name="methodDefault"/>.</summary>
    public int SamplesFor(int methodDefault) => Samples > 0 ? Samples : methodDefault;

    /// <summary>Checks the values (a clear error for the command line and the web controls).</summary>
    public PerturbationOptions Validated()
    {
        if (Samples < 0) throw new Runtime.UserInputException($"--samples must be 0 (the method's default) or more, not {Samples}");
        if (BatchSize < 1) throw new Runtime.UserInputException($"--perturbation-batch must be at least 1, not {BatchSize}");
        return this;
    }
}
