using System.Collections.Concurrent;
using System.Diagnostics;
using System.Threading.Channels;

namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>
/// The last stage: hands each frame to every sink, counts it, and disposes it. Finishes a source's outputs as soon
/// as that source has ended and all its frames are written, and every output when the run ends - also when it is
/// stopped or fails, so files stay playable.
/// </summary>
public sealed class SinkStage(IReadOnlyList<IFrameSink> sinks, PipelineStatistics statistics)
{
    private readonly ConcurrentDictionary<int, long> _ended = new();
    private readonly Dictionary<int, long> _written = [];

    /// <summary>Source <paramref name="source"/> delivered <paramref name="frames"/> frames in all (thread-safe).</summary>
    public void SourceEnded(int source, long frames) => _ended[source] = frames;

    /// <summary>Runs until the input completes, then closes every sink.</summary>
    public async Task RunAsync(ChannelReader<AnalyzedFrame> input, CancellationToken abort)
    {
        var errors = new List<Exception>();
        try
        {
            await foreach (var frame in input.ReadAllAsync(abort).ConfigureAwait(false))
            {
                using (frame)
                {
                    var clock = Stopwatch.StartNew();
                    foreach (var sink in sinks) sink.Write(frame);
                    int source = frame.Frame.SourceIndex;
                    _written[source] = _written.GetValueOrDefault(source) + 1;
                    statistics.FrameProcessed(frame, clock.Elapsed.TotalMilliseconds);
                }
                foreach (var (source, total) in _ended)
                {
                    if (_written.GetValueOrDefault(source) != total) continue;
                    foreach (var sink in sinks) sink.CompleteSource(source);
                    _ended.TryRemove(source, out _);
                }
            }
        }
        finally
        {
            foreach (var sink in sinks)
            {
                try
                {
                    sink.Dispose();
                }
                catch (Exception e)
                {
                    errors.Add(e);
                }
            }
        }
        if (errors.Count > 0) throw new AggregateException("finishing the outputs failed", errors);
    }
}
