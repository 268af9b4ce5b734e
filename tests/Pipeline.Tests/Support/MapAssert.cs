using StreamAnalyzer.Pipeline.Explainers;

namespace StreamAnalyzer.Pipeline.Tests.Support;

/// <summary>Assertions on explanations' maps.</summary>
public static class MapAssert
{
    /// <summary>
    /// One explanation per reference explanation, each first map within 1e-3 of the reference's everywhere and constant
    /// exactly where the reference's is. <paramref name="describe"/> names a detection in the failure message.
    /// </summary>
    public static void SameMaps(IReadOnlyList<DetectionExplanation> actual, IReadOnlyList<DetectionExplanation> reference,
        Func<DetectionExplanation, string> describe)
    {
        Assert.Equal(reference.Count, actual.Count);
        foreach (var (a, b) in actual.Zip(reference))
        {
            Assert.Equal(b.Maps[0].IsConstant, a.Maps[0].IsConstant);
            float worst = a.Maps[0].Values.Zip(b.Maps[0].Values).Max(p => Math.Abs(p.First - p.Second));
            Assert.True(worst < 1e-3, $"{describe(a)}: maps differ by {worst}");
        }
    }
}
