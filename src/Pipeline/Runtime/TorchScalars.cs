using System.Collections.Concurrent;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Runtime;

/// <summary>
/// Scalars for tensor operations, created once and kept. TorchSharp 0.107 turns a plain number passed to a tensor
/// operation into a <see cref="Scalar"/> that nothing keeps alive while the native call runs: the garbage collector
/// can finalise it mid-call (seen here as "Expected false to be true" from <c>Scalar::toFloat</c> in a LeakyReLU, see
/// dotnet/TorchSharp#1434). Every operation with a constant takes its scalar from here instead (a value that changes
/// per frame goes in a <c>ToScalar()</c> disposed after the call, not in this cache), and tensors are added
/// with <see cref="Plus(Tensor, Tensor)"/>: <c>a + b</c> and <c>add(b)</c> are <c>add(b, 1)</c>, an alpha made on the
/// spot. <c>TorchScalarsTests</c> checks the built library for calls that make a scalar on the spot.
/// </summary>
internal static class TorchScalars
{
    private static readonly ConcurrentDictionary<double, Scalar> Doubles = new();
    private static readonly ConcurrentDictionary<long, Scalar> Longs = new();

    /// <summary>
    /// The <c>alpha</c> of <c>add</c>: its one-argument forms (of a scalar or a tensor, and so <c>a + b</c>) make it
    /// from the number 1 on the spot, a scalar the collector can finalise mid-call like any other. Pass this instead.
    /// </summary>
    public static Scalar One { get; } = 1.0.ToScalar();

    /// <summary>A floating-point scalar (kept for the life of the process; the values used are few).</summary>
    public static Scalar Of(double value) => Doubles.GetOrAdd(value, v => v.ToScalar());

    /// <summary>An integer scalar (sizes, for <c>arange</c>).</summary>
    public static Scalar Of(long value) => Longs.GetOrAdd(value, v => v.ToScalar());

    /// <summary><c>a + b</c>, with the kept alpha.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><c>a += b</c> in place, with the kept alpha.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary><c>1 - a</c>, with kept scalars.</summary>
    public static Tensor OneMinus(this Tensor a) => a.neg().add_(Of(1.0), One);
}
