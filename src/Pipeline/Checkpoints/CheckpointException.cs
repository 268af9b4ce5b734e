namespace StreamAnalyzer.Pipeline.Checkpoints;

/// <summary>
/// A checkpoint could not be read or does not fit the architecture it describes.
/// The message always names the file and what is wrong with it.
/// </summary>
public sealed class CheckpointException : Exception
{
    /// <summary>Creates the exception for <paramref name="path"/> with a specific reason.</summary>
    public CheckpointException(string path, string reason, Exception? inner = null)
        : base($"{path}: {reason}", inner)
    {
        FilePath = path;
        Reason = reason;
    }

    /// <summary>The checkpoint file the error is about.</summary>
    public string FilePath { get; }

    /// <summary>What is wrong, without the file name.</summary>
    public string Reason { get; }
}
