namespace StreamAnalyzer.Pipeline.Model;

/// <summary>The architecture described by a checkpoint cannot be built (unknown module, bad arguments).</summary>
public sealed class ArchitectureException(string message) : Exception(message);
