using System.Threading.Channels;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers;

namespace StreamAnalyzer.Pipeline.Streaming;

/// <summary>
/// Runs the detector on each batch; every <c>--cam-every</c>-th processed frame of a source is explained from the
/// same forward pass. The tensor work happens inside <see cref="Detector"/>'s own dispose scopes, never across an await.
/// </summary>
public sealed class InferenceStage(Detector detector, CamExplainer? explainer, PipelineOptions options)
{
    private readonly Dictionary<int, long> _processedPerSource = [];

    /// <summary>Runs until the input completes, then completes <paramref name="output"/>.</summary>
    public async Task RunAsync(ChannelReader<IReadOnlyList<Frame>> input, ChannelWriter<AnalyzedFrame> output, CancellationToken abort)
    {
        await StageCompletion.RunAsync(output, async () =>
        {
            await foreach (var batch in input.ReadAllAsync(abort).ConfigureAwait(false))
            {
                AnalyzedFrame[] analyzed;
                try
                {
                    analyzed = Analyze(batch);
                }
                catch
                {
                    foreach (var f in batch) f.Dispose();
                    throw;
                }
                for (int i = 0; i < analyzed.Length; i++)
                {
                    try
                    {
                        await output.WriteAsync(analyzed[i], abort).ConfigureAwait(false);
                    }
                    catch
                    {
                        for (int j = i; j < analyzed.Length; j++) analyzed[j].Dispose();
                        throw;
                    }
                }
            }
        }).ConfigureAwait(false);
    }

    private AnalyzedFrame[] Analyze(IReadOnlyList<Frame> batch)
    {
        var due = new bool[batch.Count];
        for (int i = 0; i < batch.Count; i++)
        {
            long n = _processedPerSource.GetValueOrDefault(batch[i].SourceIndex);
            _processedPerSource[batch[i].SourceIndex] = n + 1;
            due[i] = explainer is not null && options.CamEvery > 0 && n % options.CamEvery == 0;
        }
        var result = new AnalyzedFrame[batch.Count];
        foreach (bool explain in new[] { true, false })
        {
            var members = Enumerable.Range(0, batch.Count).Where(i => due[i] == explain).ToArray();
            if (members.Length == 0) continue;
            var results = detector.Detect(members.Select(i => batch[i].Image).ToArray(), explain ? explainer : null, options.TopK);
            for (int k = 0; k < members.Length; k++) result[members[k]] = new AnalyzedFrame(batch[members[k]], results[k], explain);
        }
        return result;
    }
}
