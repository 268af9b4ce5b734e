using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Detection;

/// <summary>
/// Upstream <c>utils.general.non_max_suppression</c>: confidence = objectness x class probability, best class
/// (or multi-label), class filter, class-aware (or agnostic) greedy NMS, at most <c>MaxDetections</c> per frame.
/// </summary>
public static class NonMaxSuppression
{
    /// <summary>A candidate box in input pixels, with the prediction row it came from.</summary>
    public readonly record struct Candidate(BoxF Box, float Score, int ClassId, int Row);

    /// <summary>Runs NMS on every frame of a (B, N, 5 + nc) prediction. Returns one list per frame, best first.</summary>
    public static List<Candidate>[] Run(Tensor prediction, NmsOptions options)
    {
        int batch = (int)prediction.shape[0];
        int columns = (int)prediction.shape[2];
        int nc = columns - 5;
        var results = new List<Candidate>[batch];
        using var scope = NewDisposeScope();
        var pred = prediction.detach().to(ScalarType.Float32).cpu();
        for (int b = 0; b < batch; b++)
        {
            // Only rows with objectness above the threshold leave the tensor.
            var rows = nonzero(pred[b, TensorIndex.Colon, 4] > options.ConfThreshold).view(-1);
            if (rows.numel() == 0)
            {
                // (TorchSharp's ToArray throws on an empty tensor.)
                results[b] = [];
                continue;
            }
            long[] rowIndex = rows.data<long>().ToArray();
            float[] values = pred[b].index_select(0, rows).contiguous().data<float>().ToArray();
            results[b] = Suppress(values, rowIndex, nc, columns, options);
        }
        return results;
    }

    private static List<Candidate> Suppress(float[] values, long[] rowIndex, int nc, int columns, NmsOptions o)
    {
        var candidates = new List<Candidate>();
        for (int r = 0; r < rowIndex.Length; r++)
        {
            int at = r * columns;
            float obj = values[at + 4];
            float cx = values[at], cy = values[at + 1], w = values[at + 2], h = values[at + 3];
            var box = new BoxF(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2);
            // With one class upstream takes the objectness as the confidence (its class output is untrained).
            float Score(int c) => nc == 1 ? obj : values[at + 5 + c] * obj;
            if (o.MultiLabel && nc > 1)
            {
                for (int c = 0; c < nc; c++)
                    if (Score(c) > o.ConfThreshold) candidates.Add(new Candidate(box, Score(c), c, (int)rowIndex[r]));
            }
            else
            {
                int best = 0;
                for (int c = 1; c < nc; c++) if (Score(c) > Score(best)) best = c;
                if (Score(best) > o.ConfThreshold) candidates.Add(new Candidate(box, Score(best), best, (int)rowIndex[r]));
            }
        }
        if (o.Classes is { } keep) candidates.RemoveAll(c => !keep.Contains(c.ClassId));

        // Stable sort by descending score; torchvision's nms visits boxes in that order.
        var order = candidates.Select((c, i) => (c, i)).OrderByDescending(p => p.c.Score).ThenBy(p => p.i).Select(p => p.c).ToList();
        if (order.Count > NmsOptions.MaxCandidates) order = order.GetRange(0, NmsOptions.MaxCandidates);

        const float maxWh = 4096; // class offset that keeps classes apart in class-aware NMS
        BoxF Offset(in Candidate c) => o.Agnostic ? c.Box
            : new BoxF(c.Box.X1 + c.ClassId * maxWh, c.Box.Y1 + c.ClassId * maxWh, c.Box.X2 + c.ClassId * maxWh, c.Box.Y2 + c.ClassId * maxWh);
        var kept = new List<Candidate>();
        var keptBoxes = new List<BoxF>();
        foreach (var c in order)
        {
            var box = Offset(c);
            bool suppressed = false;
            foreach (var k in keptBoxes)
            {
                if (BoxF.IoU(box, k) > o.IouThreshold) { suppressed = true; break; }
            }
            if (suppressed) continue;
            kept.Add(c);
            keptBoxes.Add(box);
            if (kept.Count >= o.MaxDetections) break;
        }
        return kept;
    }
}
