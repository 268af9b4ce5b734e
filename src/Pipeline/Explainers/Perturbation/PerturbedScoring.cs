using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Model.Onnx;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Perturbation;

/// <summary>
/// Runs the model again on perturbed copies of one image, a batch at a time (each batch in its own dispose scope,
/// without autograd), and scores target detections in each copy. With <paramref name="onnx"/> (the detector's ONNX
/// Runtime backend) the copies run there, a whole batch at a time (a short last batch is padded, so one session
/// serves every batch); otherwise on TorchSharp.
/// </summary>
public sealed class PerturbedScoring(YoloModel model, PerturbationOptions options, OnnxRuntimeModel? onnx = null)
{
    /// <summary>The options (batch size, progress).</summary>
    public PerturbationOptions Options { get; } = options;

    /// <summary>
    /// Scores <paramref name="targets"/> in <paramref name="count"/> perturbed images, made
    /// <see cref="PerturbationOptions.BatchSize"/> at a time by <paramref name="makeBatch"/>(start, n) as
    /// (n, 3, H, W) tensors on the model's device. <paramref name="consume"/> sees each batch's (targets, n) CPU
    /// scores before the batch is disposed (to accumulate masks without keeping them).
    /// Returns the scores, [target][image].
    /// </summary>
    /// <exception cref="OperationCanceledException"><see cref="PerturbationOptions.Cancellation"/> was cancelled.</exception>
    public float[][] Score(int count, Func<int, int, Tensor> makeBatch, IReadOnlyList<Detection.Detection> targets, DetectionMatch match,
        Action<Tensor>? consume = null)
    {
        var scores = targets.Select(_ => new float[count]).ToArray();
        using var grad = no_grad();
        for (int start = 0; start < count; start += Options.BatchSize)
        {
            Options.Cancellation.ThrowIfCancellationRequested();
            int n = Math.Min(Options.BatchSize, count - start);
            using var scope = NewDisposeScope();
            var batch = makeBatch(start, n);
            var pred = onnx is null ? model.forward(batch) : RunOnnx(onnx, batch);
            var s = DetectionMatching.Scores(pred, model.Layout, targets, match);
            var values = s.data<float>().ToArray();
            for (int t = 0; t < targets.Count; t++) Array.Copy(values, t * n, scores[t], start, n);
            consume?.Invoke(s);
            Options.Progress?.Report((double)(start + n) / count);
        }
        return scores;
    }

    private Tensor RunOnnx(OnnxRuntimeModel runtime, Tensor batch)
    {
        long n = batch.shape[0];
        if (n == Options.BatchSize) return runtime.Run(batch).Pred;
        var padded = cat([batch, zeros([Options.BatchSize - n, .. batch.shape[1..]], batch.dtype, batch.device)], 0);
        return runtime.Run(padded).Pred[..(int)n];
    }
}
