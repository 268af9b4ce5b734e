using StreamAnalyzer.Pipeline.Explainers.Perturbation;
using StreamAnalyzer.Pipeline.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Methods;

/// <summary>
/// D-RISE (Petsiuk et al., CVPR 2021): random smooth masks (a <see cref="GridCells"/> x <see cref="GridCells"/>
/// grid of cells kept with probability <see cref="KeepProbability"/>, upsampled bilinearly and shifted by a random
/// fraction of a cell) multiply the input; each mask is weighted by the similarity of the masked image's
/// detections to the target (<see cref="DetectionMatch.DRise"/>), and the map is the weighted sum of the masks
/// with the weights centred on their mean: the covariance of score and mask, i.e. how much keeping a pixel raises
/// the score. (The paper's plain weighted sum differs from it by a constant level, which min-max normalisation
/// would leave as a floor over the whole image.) The covariance is an estimate from a finite number of masks: the
/// map keeps what exceeds <see cref="SignificanceLevel"/> standard errors of it, so pixels that do not matter
/// show nothing rather than sampling noise spread over the whole image.
/// Needs only forward passes, so it explains every family alike. One set of
/// <see cref="PerturbationOptions.Samples"/> masks (default <see cref="DefaultMasks"/>), drawn from
/// <see cref="PerturbationOptions.Seed"/>, serves all the detections of an image.
/// </summary>
public sealed class DRise : CamMethod
{
    /// <summary>Masks per image unless <see cref="PerturbationOptions.Samples"/> says otherwise.</summary>
    public const int DefaultMasks = 500;

    /// <summary>Mask grid size (the paper's s for COCO-sized inputs).</summary>
    public const int GridCells = 16;

    /// <summary>Probability that a grid cell is kept.</summary>
    public const double KeepProbability = 0.5;

    /// <summary>Standard errors of the covariance estimate a pixel must exceed to show.</summary>
    public const double SignificanceLevel = 3.0;

    /// <inheritdoc/>
    public override string Name => "drise";

    /// <inheritdoc/>
    public override bool NeedsGradients => false;

    /// <inheritdoc/>
    public override bool ExplainsInput => true;

    /// <inheritdoc/>
    public override bool Perturbs => true;

    /// <inheritdoc/>
    public override IReadOnlyList<Tensor?> InputMaps(IReadOnlyList<CamContext> detections)
    {
        var first = detections[0];
        int height = first.Height, width = first.Width, count = first.Perturbation.SamplesFor(DefaultMasks);
        int cellH = (height + GridCells - 1) / GridCells, cellW = (width + GridCells - 1) / GridCells;
        using var generator = new Generator((ulong)first.Perturbation.Seed);
        var input = first.Input.unsqueeze(0);
        var saliency = zeros([detections.Count, (long)height * width], ScalarType.Float32, input.device);
        var maskSum = zeros([(long)height * width], ScalarType.Float32, input.device);
        var maskSquares = zeros([(long)height * width], ScalarType.Float32, input.device);
        Tensor? masks = null;
        var weights = first.Rerun.Score(count, (start, n) =>
        {
            var grid = rand([n, 1, GridCells, GridCells], generator: generator).lt(TorchScalars.Of(KeepProbability)).to(ScalarType.Float32);
            var smooth = nn.functional.interpolate(grid, [(GridCells + 1) * cellH, (GridCells + 1) * cellW], mode: InterpolationMode.Bilinear, align_corners: false);
            var shifts = randint(0, cellH * cellW, [n], generator: generator).data<long>().ToArray();
            masks = stack(Enumerable.Range(0, n).Select(i =>
            {
                int dy = (int)(shifts[i] / cellW), dx = (int)(shifts[i] % cellW);
                return smooth[i, .., dy..(dy + height), dx..(dx + width)];
            })).to(input.device);
            return input * masks.to(input.dtype);
        }, detections.Select(d => d.Target).ToArray(), DetectionMatch.DRise, scores =>
        {
            var flat = masks!.view(masks.shape[0], -1);
            saliency.PlusInPlace(scores.to(input.device).matmul(flat));
            maskSum.PlusInPlace(flat.sum(0L));
            maskSquares.PlusInPlace(flat.square().sum(0L));
        });
        // cov(w, M(x)) = (sum_i w_i M_i(x) - mean(w) sum_i M_i(x)) / N; its standard error sqrt(var(w) var(M(x)) / N).
        var n = TorchScalars.Of((double)count);
        var maskVariance = (maskSquares.div(n) - maskSum.div(n).square()).clamp_min(TorchScalars.Of(0.0));
        return Enumerable.Range(0, detections.Count).Select(t =>
        {
            double meanScore = weights[t].Average();
            double scoreVariance = weights[t].Select(w => (w - meanScore) * (w - meanScore)).Sum() / count;
            // Scalars made per frame live until the operations that read them are done.
            using Scalar mean = meanScore.ToScalar(), variance = (scoreVariance / count).ToScalar();
            var covariance = (saliency[t] - maskSum.mul(mean)).div(n);
            var standardError = maskVariance.mul(variance).sqrt();
            return (Tensor?)nn.functional.relu(covariance - standardError.mul(TorchScalars.Of(SignificanceLevel))).view(height, width);
        }).ToArray();
    }
}
