using StreamAnalyzer.Pipeline.Explainers.Perturbation;
using StreamAnalyzer.Pipeline.Runtime;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Methods;

/// <summary>
/// Score-CAM (Wang et al. 2020) for one detection: each activation channel, upsampled to the input and min-max
/// normalised, masks the input; the channel's weight is how much the masked input raises the detection's re-found
/// score above a blank input (the paper's "increase of confidence", clipped at 0); the map is the weighted sum of
/// the channels. No gradients. For speed only the <see cref="PerturbationOptions.Samples"/> channels (default
/// <see cref="DefaultChannels"/>) with the highest mean activation inside the detection's box are used - one
/// forward pass each, batched.
/// </summary>
public sealed class ScoreCam : CamMethod
{
    /// <summary>Channels used per layer unless <see cref="PerturbationOptions.Samples"/> says otherwise.</summary>
    public const int DefaultChannels = 32;

    /// <inheritdoc/>
    public override string Name => "scorecam";

    /// <inheritdoc/>
    public override bool NeedsGradients => false;

    /// <inheritdoc/>
    public override bool Perturbs => true;

    /// <inheritdoc/>
    public override Tensor? Map(CamContext context, ExplainTarget layer)
    {
        var activations = context.Activations(layer).to(context.Input.dtype);
        long channels = activations.shape[0], u = activations.shape[1], v = activations.shape[2];
        int height = context.Height, width = context.Width;
        var box = context.Target.InputBox;
        // The box in cells of this layer (at least one cell).
        int x1 = Math.Clamp((int)Math.Floor(box.X1 / width * v), 0, (int)v - 1), y1 = Math.Clamp((int)Math.Floor(box.Y1 / height * u), 0, (int)u - 1);
        int x2 = Math.Clamp((int)Math.Ceiling(box.X2 / width * v), x1 + 1, (int)v), y2 = Math.Clamp((int)Math.Ceiling(box.Y2 / height * u), y1 + 1, (int)u);
        int count = (int)Math.Min(context.Perturbation.SamplesFor(DefaultChannels), channels);
        var chosen = activations[.., y1..y2, x1..x2].mean([1, 2]).topk(count).indexes;
        var selected = activations.index_select(0, chosen);
        var input = context.Input.unsqueeze(0);
        // Image 0 is the blank input the scores are measured against; image k >= 1 is masked by channel k - 1.
        var scores = context.Rerun.Score(count + 1, (start, n) =>
        {
            var images = new List<Tensor>();
            int from = Math.Max(start, 1) - 1, to = start + n - 1;
            if (start == 0) images.Add(zeros_like(input));
            if (to > from)
            {
                var masks = nn.functional.interpolate(selected[from..to].unsqueeze(1), [height, width],
                    mode: InterpolationMode.Bilinear, align_corners: false);
                var low = masks.amin([2, 3], keepdim: true);
                var range = masks.amax([2, 3], keepdim: true) - low;
                masks = where(range.gt(TorchScalars.Of(0.0)), (masks - low) / range.clamp_min(TorchScalars.Of(1e-12)), zeros_like(masks));
                images.Add(input * masks);
            }
            return cat(images, 0);
        }, [context.Target], DetectionMatch.Refound)[0];
        float blank = scores[0];
        scores = scores[1..];
        var weights = tensor(scores.Select(s => Math.Max(0f, s - blank)).ToArray(), device: activations.device).to(activations.dtype);
        if (weights.sum().item<float>() <= 0) return null; // no channel raises the score: nothing to show
        return nn.functional.relu((weights.view(-1, 1, 1) * selected).sum(0L));
    }
}
