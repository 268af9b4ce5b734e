using System.Threading.Channels;

namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>Groups frames into batches of up to <c>--batch</c>, waiting at most the batch timeout for a partial batch.</summary>
public sealed class BatchingStage(PipelineOptions options, PipelineStatistics statistics)
{
    // Live frames that waited longer than the staleness budget are dropped here, before they cost a forward pass.
    private bool Fresh(Frame f)
    {
        if (!f.IsLive || options.MaxStaleness <= TimeSpan.Zero || f.AgeMs <= options.MaxStaleness.TotalMilliseconds) return true;
        statistics.FrameDropped(f.SourceIndex);
        f.Dispose();
        return false;
    }

    /// <summary>Runs until the input completes, then completes <paramref name="output"/> (with the input's error, if any).</summary>
    public async Task RunAsync(ChannelReader<Frame> input, ChannelWriter<IReadOnlyList<Frame>> output, CancellationToken abort)
    {
        await StageCompletion.RunAsync(output, async () =>
        {
            while (await input.WaitToReadAsync(abort).ConfigureAwait(false))
            {
                var batch = new List<Frame>(options.Batch);
                try
                {
                    while (batch.Count < options.Batch && input.TryRead(out var f)) if (Fresh(f)) batch.Add(f);
                    if (batch.Count < options.Batch && options.BatchTimeout > TimeSpan.Zero)
                    {
                        using var wait = CancellationTokenSource.CreateLinkedTokenSource(abort);
                        wait.CancelAfter(options.BatchTimeout);
                        try
                        {
                            while (batch.Count < options.Batch && await input.WaitToReadAsync(wait.Token).ConfigureAwait(false))
                                while (batch.Count < options.Batch && input.TryRead(out var f)) if (Fresh(f)) batch.Add(f);
                        }
                        catch (OperationCanceledException) when (!abort.IsCancellationRequested)
                        {
                            // The partial batch goes now.
                        }
                    }
                    if (batch.Count > 0) await output.WriteAsync(batch, abort).ConfigureAwait(false);
                }
                catch
                {
                    foreach (var f in batch) f.Dispose();
                    throw;
                }
            }
        }).ConfigureAwait(false);
    }
}
