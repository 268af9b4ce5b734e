using System.Diagnostics;
using System.Globalization;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>Timing samples of one measured thing: median and 95th percentile, in milliseconds.</summary>
internal sealed class BenchSamples
{
    private readonly List<double> _values = [];

    public void Add(double ms) => _values.Add(ms);

    /// <summary>Adds every sample of <paramref name="other"/>.</summary>
    public void AddAll(BenchSamples other) => _values.AddRange(other._values);

    public int Count => _values.Count;

    public double Median => Percentile(0.5);

    public double P95 => Percentile(0.95);

    /// <summary>The <paramref name="q"/> quantile (linear interpolation between the closest ranks).</summary>
    public double Percentile(double q)
    {
        if (_values.Count == 0) return 0;
        var sorted = _values.Order().ToArray();
        double rank = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(rank), hi = (int)Math.Ceiling(rank);
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo);
    }

    /// <summary>Times <paramref name="action"/> <paramref name="runs"/> times, after <paramref name="warmup"/> untimed runs, into these samples.</summary>
    public void Measure(int runs, Action action, int warmup = 2)
    {
        for (int i = 0; i < warmup; i++) action();
        for (int i = 0; i < runs; i++)
        {
            var clock = Stopwatch.StartNew();
            action();
            Add(clock.Elapsed.TotalMilliseconds);
        }
    }

    /// <summary>{ median, p95 } for JSON.</summary>
    public object ToJson() => new { median_ms = Math.Round(Median, 2), p95_ms = Math.Round(P95, 2), samples = Count };

    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Median,8:0.0} {P95,8:0.0}");
}
