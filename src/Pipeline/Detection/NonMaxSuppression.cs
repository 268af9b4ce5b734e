using System.Runtime.InteropServices;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Model;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Detection;

/// <summary>
/// Upstream NMS for any prediction layout: with objectness (YOLOv5/YOLOv7 <c>non_max_suppression</c>) candidates need
/// objectness above the threshold and score objectness x class probability; without (Ultralytics) they score their
/// class probability. Best class (or multi-label), class filter, class-aware (or agnostic) greedy NMS, at most
/// <c>MaxDetections</c> per frame.
/// </summary>
public static class NonMaxSuppression
{
    /// <summary>A candidate box in input pixels, with the prediction row it came from.</summary>
    public readonly record struct Candidate(BoxF Box, float Score, int ClassId, int Row);

    /// <summary>Runs NMS on every frame of a (B, N, columns) prediction laid out as <paramref name="layout"/> says. Returns one list per frame, best first.</summary>
    /// <exception cref="ArgumentException">The options are not resolved (<see cref="NmsOptions.WithDefaults"/>) or the prediction does not fit the layout.</exception>
    public static List<Candidate>[] Run(Tensor prediction, PredictionLayout layout, NmsOptions options)
    {
        if (!options.IsResolved) throw new ArgumentException("NMS options must be resolved against the model family's defaults", nameof(options));
        int batch = (int)prediction.shape[0];
        int columns = (int)prediction.shape[2];
        if (columns != layout.Columns) throw new ArgumentException($"prediction has {columns} columns, the layout {layout.Columns}", nameof(prediction));
        float conf = options.ConfThreshold!.Value;
        var results = new List<Candidate>[batch];
        using var scope = NewDisposeScope();
        var pred = prediction.detach().to(ScalarType.Float32);
        for (int b = 0; b < batch; b++)
        {
            // Only candidate rows leave the tensor (and, on a GPU, the device): objectness above the threshold, or
            // (without objectness) the best class score. Copying the whole prediction to the host cost more than the
            // forward pass on a GPU (8.6 MB per 640x640 image for YOLOv7).
            var gate = layout.HasObjectness
                ? pred[b, TensorIndex.Colon, layout.ObjectnessColumn]
                : pred[b, TensorIndex.Colon, TensorIndex.Slice(layout.ClassColumn, null)].amax(-1);
            var rows = nonzero(gate.gt(TorchScalars.Of(conf))).view(-1);
            if (rows.numel() == 0)
            {
                // (TorchSharp's ToArray throws on an empty tensor.)
                results[b] = [];
                continue;
            }
            // Copied as bytes: TorchSharp's data<T>().ToArray() reads element by element, ten times slower.
            long[] rowIndex = MemoryMarshal.Cast<byte, long>(rows.cpu().contiguous().bytes).ToArray();
            float[] values = MemoryMarshal.Cast<byte, float>(pred[b].index_select(0, rows).cpu().contiguous().bytes).ToArray();
            results[b] = Suppress(values, rowIndex, layout, options);
        }
        return results;
    }

    private static List<Candidate> Suppress(float[] values, long[] rowIndex, PredictionLayout layout, NmsOptions o)
    {
        int nc = layout.NumClasses, columns = layout.Columns, first = layout.ClassColumn;
        float conf = o.ConfThreshold!.Value;
        var candidates = new List<Candidate>();
        for (int r = 0; r < rowIndex.Length; r++)
        {
            int at = r * columns;
            float obj = layout.HasObjectness ? values[at + layout.ObjectnessColumn] : 1f;
            float cx = values[at], cy = values[at + 1], w = values[at + 2], h = values[at + 3];
            var box = new BoxF(cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2);
            // YOLOv7 takes a one-class model's objectness as its confidence (the class output is untrained).
            bool objectnessOnly = layout.HasObjectness && nc == 1 && o.SingleClassUsesObjectness;
            float Score(int c) => objectnessOnly ? obj : layout.HasObjectness ? values[at + first + c] * obj : values[at + first + c];
            if (o.MultiLabel && nc > 1)
            {
                for (int c = 0; c < nc; c++)
                    if (Score(c) > conf) candidates.Add(new Candidate(box, Score(c), c, (int)rowIndex[r]));
            }
            else
            {
                int best = 0;
                for (int c = 1; c < nc; c++) if (Score(c) > Score(best)) best = c;
                if (Score(best) > conf) candidates.Add(new Candidate(box, Score(best), best, (int)rowIndex[r]));
            }
        }
        if (o.Classes is { } keep) candidates.RemoveAll(c => !keep.Contains(c.ClassId));

        // Stable sort by descending score; torchvision's nms visits boxes in that order.
        var order = candidates.Select((c, i) => (c, i)).OrderByDescending(p => p.c.Score).ThenBy(p => p.i).Select(p => p.c).ToList();
        if (order.Count > NmsOptions.MaxCandidates) order = order.GetRange(0, NmsOptions.MaxCandidates);

        float offset = o.ClassOffset;
        BoxF Offset(in Candidate c) => o.Agnostic ? c.Box
            : new BoxF(c.Box.X1 + c.ClassId * offset, c.Box.Y1 + c.ClassId * offset, c.Box.X2 + c.ClassId * offset, c.Box.Y2 + c.ClassId * offset);
        var kept = new List<Candidate>();
        var keptBoxes = new List<BoxF>();
        float iou = o.IouThreshold!.Value;
        int maxDet = o.MaxDetections!.Value;
        foreach (var c in order)
        {
            var box = Offset(c);
            bool suppressed = false;
            foreach (var k in keptBoxes)
            {
                if (BoxF.IoU(box, k) > iou) { suppressed = true; break; }
            }
            if (suppressed) continue;
            kept.Add(c);
            keptBoxes.Add(box);
            if (kept.Count >= maxDet) break;
        }
        return kept;
    }
}
