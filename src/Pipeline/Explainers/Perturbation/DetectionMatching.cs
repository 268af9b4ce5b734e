using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Perturbation;

/// <summary>Scores target detections in the predictions for perturbed images.</summary>
public static class DetectionMatching
{
    /// <summary>
    /// The score of each target in each image: (targets, images). <paramref name="pred"/> is the model's
    /// <c>Pred</c> (images, rows, columns); boxes are in input pixels.
    /// </summary>
    public static Tensor Scores(Tensor pred, PredictionLayout layout, IReadOnlyList<Detection.Detection> targets, DetectionMatch match)
    {
        using var scope = NewDisposeScope();
        var p = pred.to(ScalarType.Float32);
        var xy = p[.., .., ..2];
        var half = p[.., .., 2..4].div(TorchScalars.Of(2.0));
        var lo = xy - half;
        var hi = xy.Plus(half);
        var area = (hi - lo).clamp_min(TorchScalars.Of(0.0)).prod(-1);
        var classes = p[.., .., layout.ClassColumn..];
        var objectness = layout.HasObjectness ? p[.., .., layout.ObjectnessColumn] : null;
        var norms = match == DetectionMatch.DRise ? linalg.vector_norm(classes, 2, [-1L]).clamp_min(TorchScalars.Of(1e-12)) : null;
        var rows = new List<Tensor>();
        foreach (var t in targets)
        {
            var b = t.InputBox;
            // This box's scalars live until the operations that read them are done.
            using Scalar left = b.X1.ToScalar(), top = b.Y1.ToScalar(), right = b.X2.ToScalar(), bottom = b.Y2.ToScalar(), boxArea = b.Area.ToScalar();
            var x1 = lo[.., .., 0].clamp_min(left);
            var y1 = lo[.., .., 1].clamp_min(top);
            var x2 = hi[.., .., 0].clamp_max(right);
            var y2 = hi[.., .., 1].clamp_max(bottom);
            var zero = TorchScalars.Of(0.0);
            var inter = (x2 - x1).clamp_min(zero) * (y2 - y1).clamp_min(zero);
            var iou = inter / (area.add(boxArea, TorchScalars.One) - inter).clamp_min(TorchScalars.Of(1e-9));
            var classScore = classes[.., .., t.ClassId];
            Tensor score;
            if (match == DetectionMatch.Refound)
            {
                var confidence = objectness is null ? classScore : objectness * classScore;
                score = where(iou.ge(TorchScalars.Of(0.5)), confidence, zeros_like(confidence));
            }
            else
            {
                score = iou * (classScore / norms!);
                if (objectness is not null) score = score * objectness;
            }
            rows.Add(score.amax(-1L));
        }
        return stack(rows).cpu().MoveToOuterDisposeScope();
    }
}
