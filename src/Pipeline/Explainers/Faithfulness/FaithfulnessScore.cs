namespace StreamAnalyzer.Pipeline.Explainers.Faithfulness;

/// <summary>
/// How well a map predicts what the detector uses: the detection's re-found score as the map's most important
/// pixels are deleted (lower area is better) or inserted into a blurred copy (higher is better).
/// </summary>
/// <param name="DeletionAuc">Area under the deletion curve (x: share of pixels deleted, 0 to 1; y: score).</param>
/// <param name="InsertionAuc">Area under the insertion curve.</param>
/// <param name="Deletion">The deletion curve: the score after deleting k/steps of the pixels, k = 0..steps.</param>
/// <param name="Insertion">The insertion curve.</param>
public sealed record FaithfulnessScore(double DeletionAuc, double InsertionAuc, IReadOnlyList<float> Deletion, IReadOnlyList<float> Insertion)
{
    /// <summary>Area under a curve sampled at k/steps, k = 0..steps (trapezoid rule).</summary>
    public static double Area(IReadOnlyList<float> curve)
    {
        int steps = curve.Count - 1;
        if (steps < 1) return curve.Count == 1 ? curve[0] : 0;
        double sum = 0;
        for (int k = 0; k < steps; k++) sum += (curve[k] + curve[k + 1]) / 2.0;
        return sum / steps;
    }
}
