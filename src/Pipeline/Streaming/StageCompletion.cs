using System.Threading.Channels;

namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>How every stage ends: its output channel completes when it does, carrying its error if it failed.</summary>
internal static class StageCompletion
{
    /// <summary>Runs <paramref name="body"/>, then completes <paramref name="output"/> (with the failure, if any).</summary>
    public static async Task RunAsync<T>(ChannelWriter<T> output, Func<Task> body)
    {
        Exception? failure = null;
        try
        {
            await body().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            failure = e;
            throw;
        }
        finally
        {
            output.TryComplete(failure);
        }
    }
}
