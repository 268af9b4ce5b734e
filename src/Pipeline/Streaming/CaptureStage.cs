using System.Threading.Channels;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Sources;

namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>
/// Reads the sources into the frame channel: several at a time (so batches can mix them), each in order, every
/// <c>--vid-stride</c>-th frame. File sources wait when the channel is full: nothing is lost. A source that cannot
/// be opened is reported and skipped; the others run.
/// </summary>
public sealed class CaptureStage(IReadOnlyList<SourceCatalog.Entry> sources, PipelineOptions options, PipelineStatistics statistics)
{
    /// <summary>Raised (from a capture thread) when source i has delivered its last frame: (source index, frames delivered).</summary>
    public event Action<int, long>? SourceEnded;

    /// <summary>Raised when a source is opened: (source index, the open source).</summary>
    public event Action<int, IFrameSource>? SourceOpened;

    /// <summary>Runs until every source ends or <paramref name="stop"/> is cancelled, then completes <paramref name="output"/>.</summary>
    public async Task RunAsync(ChannelWriter<Frame> output, CancellationToken stop)
    {
        using var slots = new SemaphoreSlim(Math.Max(1, options.MaxOpenSources));
        Exception? failure = null;
        try
        {
            var readers = sources.Select((entry, index) => Task.Run(async () =>
            {
                await slots.WaitAsync(stop).ConfigureAwait(false);
                try
                {
                    await ReadSourceAsync(index, entry, output, stop).ConfigureAwait(false);
                }
                finally
                {
                    slots.Release();
                }
            }, CancellationToken.None)).ToArray();
            await Task.WhenAll(readers).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            // Stopped on request: what was captured flows on.
        }
        catch (Exception e)
        {
            failure = e;
            throw;
        }
        finally
        {
            output.TryComplete(failure);
        }
    }

    private async Task ReadSourceAsync(int index, SourceCatalog.Entry entry, ChannelWriter<Frame> output, CancellationToken stop)
    {
        long delivered = 0;
        IFrameSource source;
        try
        {
            source = entry.Open();
        }
        catch (UserInputException e)
        {
            statistics.SourceErrors.Enqueue(e.Message);
            SourceEnded?.Invoke(index, 0);
            return;
        }
        using (source)
        {
            SourceOpened?.Invoke(index, source);
            long frameIndex = 0;
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    bool got;
                    OpenCvSharp.Mat image;
                    double timestamp;
                    try
                    {
                        got = source.TryRead(out image, out timestamp);
                    }
                    catch (UserInputException e)
                    {
                        statistics.SourceErrors.Enqueue(e.Message);
                        break;
                    }
                    if (!got) break;
                    long i = frameIndex++;
                    if (i % Math.Max(1, options.VidStride) != 0)
                    {
                        image.Dispose();
                        continue;
                    }
                    var frame = new Frame(image, index, i, timestamp);
                    try
                    {
                        await output.WriteAsync(frame, stop).ConfigureAwait(false);
                    }
                    catch
                    {
                        frame.Dispose();
                        throw;
                    }
                    delivered++;
                    statistics.FrameCaptured();
                }
            }
            finally
            {
                SourceEnded?.Invoke(index, delivered);
            }
        }
    }
}
