namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>Where a source stands (shown per stream on the web page and in <c>/healthz</c>).</summary>
public enum SourceState
{
    /// <summary>Not opened yet (files wait for a free reading slot).</summary>
    Waiting,

    /// <summary>Being opened.</summary>
    Connecting,

    /// <summary>Delivering frames.</summary>
    Running,

    /// <summary>A live source that dropped or stalled, being reopened.</summary>
    Reconnecting,

    /// <summary>Read to its end (or stopped).</summary>
    Ended,

    /// <summary>Could not be read; see its error.</summary>
    Failed,
}
