namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary>
/// The x264 presets a recording (<c>--save-preset</c>) can use, and the automatic choice. The encoder shares the CPU
/// with inference: on a 2-core machine <c>superfast</c> took about a tenth of the run's CPU for the demo clip and
/// <c>ultrafast</c> half of that, for files about 1.5 times as large at the same quality (<c>docs/performance.md</c>).
/// </summary>
public static class EncoderPresets
{
    /// <summary>The choices, fastest first; <c>auto</c> picks by the machine's cores.</summary>
    public static readonly IReadOnlyList<string> Names =
        ["auto", "ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow"];

    /// <summary>Machines with at most this many cores record with <c>ultrafast</c> under <c>auto</c>.</summary>
    public const int FewCores = 4;

    /// <summary>
    /// The x264 preset <paramref name="preset"/> stands for: itself, or under <c>auto</c> (or null) <c>ultrafast</c>
    /// on machines of up to <see cref="FewCores"/> cores, where every cycle the encoder takes is one inference loses,
    /// else <c>superfast</c>.
    /// </summary>
    /// <exception cref="ArgumentException">Not one of <see cref="Names"/>.</exception>
    public static string Resolve(string? preset)
    {
        if (preset is null or "auto") return Environment.ProcessorCount <= FewCores ? "ultrafast" : "superfast";
        return Names.Contains(preset) ? preset : throw new ArgumentException($"'{preset}' is not an x264 preset ({string.Join(", ", Names)})", nameof(preset));
    }
}
