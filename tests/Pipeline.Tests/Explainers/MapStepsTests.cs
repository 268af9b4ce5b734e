using StreamAnalyzer.Pipeline.Explainers;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Tests.Explainers;

/// <summary>The steps every map takes to the input's size: bilinear upsampling with pixel centres aligned, min-max normalisation.</summary>
public class MapStepsTests
{
    [Fact]
    public void RenormaliseMapsTheRangeOntoZeroToOne()
    {
        var map = new[] { 2f, 4f, 6f, 3f };
        Assert.True(MapSteps.Renormalise(map));
        Assert.Equal(new[] { 0f, 0.5f, 1f, 0.25f }, map);
    }

    [Theory]
    [InlineData(1f, 1f)]
    [InlineData(float.NaN, 1f)]
    [InlineData(float.PositiveInfinity, 1f)]
    [InlineData(float.NegativeInfinity, 2f)]
    public void ConstantOrNonFiniteMapsAreLeftAlone(float first, float second)
    {
        var map = new[] { first, second, 1f };
        var before = (float[])map.Clone();
        Assert.False(MapSteps.Renormalise(map));
        Assert.Equal(before, map);
    }

    [Fact]
    public void ARangeTooSmallToInvertCountsAsConstant()
    {
        // 1 / (max - min) overflows float: scaling would give infinity times zero, NaN.
        var map = new[] { 0f, float.Epsilon, 0f, float.Epsilon, 0f, 0f, 0f, 0f, 0f, float.Epsilon };
        var before = (float[])map.Clone();
        Assert.False(MapSteps.Renormalise(map));
        Assert.Equal(before, map);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    public void OneNonFiniteValueInALargeMapRejectsIt(float value)
    {
        // Large enough for OpenCV's vectorised passes, whose minimum and maximum need not see a NaN.
        var map = Enumerable.Range(0, 320 * 320).Select(i => (float)(i % 977)).ToArray();
        map[40_001] = value;
        var before = (float[])map.Clone();
        Assert.False(MapSteps.Renormalise(map));
        Assert.Equal(before, map);
    }

    [Fact]
    public void NormaliseUpsamplesWithPixelCentresAligned()
    {
        // A 1x2 map [0, 1] to 1x4: source positions (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped at the edges
        // (PyTorch's interpolate with align_corners=False).
        using var raw = tensor(new[] { 0f, 1f }, [1, 2]);
        var values = MapSteps.Normalise(raw, 1, 4);
        Assert.NotNull(values);
        Assert.Equal(new[] { 0f, 0.25f, 0.75f, 1f }, values!, new ToleranceComparer(1e-6f));
        using var flat = zeros(3, 3);
        Assert.Null(MapSteps.Normalise(flat, 6, 6));
    }

    private sealed class ToleranceComparer(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float a, float b) => Math.Abs(a - b) <= tolerance;

        public int GetHashCode(float value) => 0;
    }
}
