using System.Collections.Concurrent;
using TorchSharp;

namespace StreamAnalyzer.Pipeline.Runtime;

/// <summary>
/// Scalars for tensor operations, created once and kept. TorchSharp 0.107 turns a plain number passed to a tensor
/// operation into a <see cref="Scalar"/> that nothing keeps alive while the native call runs: the garbage collector
/// can finalise it mid-call (seen here as "Expected false to be true" from <c>Scalar::toFloat</c> in a LeakyReLU, see
/// dotnet/TorchSharp#1434). Every per-frame operation with a number takes its scalar from here instead.
/// </summary>
internal static class TorchScalars
{
    private static readonly ConcurrentDictionary<double, Scalar> Doubles = new();
    private static readonly ConcurrentDictionary<long, Scalar> Longs = new();

    /// <summary>
    /// The <c>alpha</c> of <c>add</c> with a scalar: its one-argument form makes it from the number 1 on the spot
    /// (<c>add(scalar, 1)</c>), a scalar the collector can finalise mid-call like any other. Pass this instead.
    /// </summary>
    public static Scalar One { get; } = 1.0.ToScalar();

    /// <summary>A floating-point scalar (kept for the life of the process; the values used are few).</summary>
    public static Scalar Of(double value) => Doubles.GetOrAdd(value, v => v.ToScalar());

    /// <summary>An integer scalar (sizes, for <c>arange</c>).</summary>
    public static Scalar Of(long value) => Longs.GetOrAdd(value, v => v.ToScalar());
}
