using StreamAnalyzer.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Perturbation;

/// <summary>How a target detection is scored in the prediction for a perturbed image.</summary>
public enum DetectionMatch
{
    /// <summary>
    /// The detection re-found: the highest confidence of its class (objectness x class score, or the class score
    /// alone without objectness) among the predicted boxes overlapping it with IoU >= 0.5; 0 where none does.
    /// What Score-CAM, LIME and the faithfulness curves measure.
    /// </summary>
    Refound,

    /// <summary>
    /// D-RISE's similarity (Petsiuk et al. 2021): the highest, over the predicted boxes, of IoU x objectness x the
    /// cosine similarity of the class scores with the target's one-hot class vector (objectness 1 without one).
    /// </summary>
    DRise,
}

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
        var half = p[.., .., 2..4] / 2;
        var lo = xy - half;
        var hi = xy + half;
        var area = (hi - lo).clamp_min(0).prod(-1);
        var classes = p[.., .., layout.ClassColumn..];
        var objectness = layout.HasObjectness ? p[.., .., layout.ObjectnessColumn] : null;
        var norms = match == DetectionMatch.DRise ? linalg.vector_norm(classes, 2, [-1L]).clamp_min(1e-12) : null;
        var rows = new List<Tensor>();
        foreach (var t in targets)
        {
            var b = t.InputBox;
            var x1 = lo[.., .., 0].clamp_min(b.X1);
            var y1 = lo[.., .., 1].clamp_min(b.Y1);
            var x2 = hi[.., .., 0].clamp_max(b.X2);
            var y2 = hi[.., .., 1].clamp_max(b.Y2);
            var inter = (x2 - x1).clamp_min(0) * (y2 - y1).clamp_min(0);
            var iou = inter / (area + b.Area - inter).clamp_min(1e-9);
            var classScore = classes[.., .., t.ClassId];
            Tensor score;
            if (match == DetectionMatch.Refound)
            {
                var confidence = objectness is null ? classScore : objectness * classScore;
                score = where(iou.ge(0.5), confidence, zeros_like(confidence));
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
