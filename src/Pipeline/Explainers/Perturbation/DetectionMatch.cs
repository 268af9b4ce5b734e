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
