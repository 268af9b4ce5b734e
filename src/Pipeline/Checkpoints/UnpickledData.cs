namespace StreamAnalyzer.Pipeline.Checkpoints;

/// <summary>What <see cref="RestrictedUnpickler"/> read: the object tree and the classes the pickle named.</summary>
/// <param name="Root">The unpickled object (for a checkpoint, usually a <see cref="PyDict"/>).</param>
/// <param name="ClassesNamed">
/// Every class the pickle names (GLOBAL), data constructors and storage classes aside, with the byte offset of its
/// first mention: what a family's profile must account for.
/// </param>
public sealed record UnpickledData(object? Root, IReadOnlyDictionary<string, long> ClassesNamed);
