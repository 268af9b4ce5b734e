using StreamAnalyzer.Pipeline.Explainers.Targets;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>
/// Gradients of detections at the head inputs (and the layers feeding them) computed on a window: a detection's
/// score depends on those layers only within the head's (and head-input layer's) receptive field around its cell,
/// so their outputs - from the forward pass that detected - are cut to that window around the detection's cell, the
/// few layers above recomputed there with autograd, and the gradients handed out with their place in the map
/// (<see cref="WindowedGradient"/>; zero outside). Exact, as long as the window reaches the receptive field's edge,
/// which is measured once per level.
/// </summary>
internal sealed class WindowGradients(YoloModel model, LevelWindows windows, ModelOutput output, CamTarget target, int height, int width) : IGradientSource
{
    private readonly Dictionary<(int Batch, int Row, int Class), IReadOnlyDictionary<ExplainTarget, WindowedGradient>> _done = [];

    /// <summary>Whether levels with a <see cref="WindowProgram"/> use it (otherwise libtorch's autograd does every window).</summary>
    public bool Managed { get; init; } = true;

    private (int Y0, int Y1, int X0, int X1) Window(int level, RowLocation at)
    {
        int r = windows.Radius(level)!.Value;
        int stride = (int)model.Layout.Strides[level];
        int ny = height / stride, nx = width / stride;
        return (Math.Max(0, at.GridY - r), Math.Min(ny, at.GridY + r + 1), Math.Max(0, at.GridX - r), Math.Min(nx, at.GridX + r + 1));
    }

    /// <summary>
    /// Where the level has a <see cref="WindowProgram"/> (float32 on the CPU) and the target a closed-form gradient, all
    /// its detections' windows go through the program at once, those cut by the map's edge included. Otherwise
    /// detections whose windows lie wholly inside their level's map (all the same size) are stacked into one batch per
    /// level for libtorch's autograd: one recomputation and one backward pass for all of them, each item's gradient its
    /// own; the rest are done one by one (<see cref="Gradients"/>).
    /// </summary>
    public void Prepare(int batchIndex, IReadOnlyList<(Detection.Detection Detection, int Level, IReadOnlyList<ExplainTarget> Targets)> detections)
    {
        foreach (var group in detections.Where(d => d.Targets.Count > 0).GroupBy(d => (d.Level, Key: string.Join(",", d.Targets.Select(t => t.Name)))))
        {
            int level = group.Key.Level;
            int size = 2 * windows.Radius(level)!.Value + 1;
            var located = group.Select(d => (d, at: model.Layout.Locate(d.Detection.Row, height, width))).ToArray();
            var targets = group.First().Targets;
            if (Managed && ByProgram(batchIndex, level, targets, located.Select(p => (p.d.Detection, p.at)).ToArray())) continue;
            var inside = located.Select(p => (p.d, p.at, w: Window(level, p.at))).Where(p => p.w.Y1 - p.w.Y0 == size && p.w.X1 - p.w.X0 == size).ToArray();
            if (inside.Length < 2) continue;
            var crops = new Dictionary<int, Tensor>();
            foreach (var root in windows.Roots(level))
            {
                var full = output.Activations[root][batchIndex];
                crops[root] = stack(inside.Select(p => full.narrow(1, p.w.Y0, size).narrow(2, p.w.X0, size)).ToArray()).detach().requires_grad_(true);
            }
            var centres = windows.RecomputeCentre(level, crops);
            var score = inside.Select((p, j) => target.Score(centres[j, p.at.Anchor], p.d.Detection.ClassId, model.Layout))
                .Aggregate((a, b) => a.Plus(b));
            var grads = torch.autograd.grad([score], targets.Select(t => crops[t.Layer]).ToArray());
            for (int j = 0; j < inside.Length; j++)
            {
                var (d, _, w) = inside[j];
                _done[(batchIndex, d.Detection.Row, d.Detection.ClassId)] = Placed(targets, w, k => grads[k][j]);
            }
        }
    }

    // All the level's windows through its managed program, stacked, those at the map's edge included (zeros outside
    // the map, as the layers' padding): forward, dScore/dRow at each window's centre row in closed form, backward.
    // False (nothing done) where the program, the activations or the target do not allow it.
    private bool ByProgram(int batchIndex, int level, IReadOnlyList<ExplainTarget> targets, (Detection.Detection Detection, RowLocation At)[] items)
    {
        if (windows.Program(level) is not { } program) return false;
        int root = windows.Roots(level)[0];
        var full = output.Activations[root][batchIndex];
        if (full.device.type != DeviceType.CPU || full.dtype != ScalarType.Float32) return false;
        if (targets.Any(t => t.Submodule is not null || (t.Layer != root && t.Layer != model.HeadInputs[level]))) return false;
        var layout = model.Layout;
        int outChannels = program.Channels(program.Output), columns = outChannels / layout.AnchorsPerCell;
        var row = new float[columns];
        var rowGradient = new float[columns];
        if (!target.ScoreGradient(row, 0, layout, rowGradient)) return false;

        int n = items.Length, r = windows.Radius(level)!.Value, size = 2 * r + 1;
        // The program's layers must leave the window's centre cell, as the measured reach says they do.
        if (program.SideOf(program.Output, size) != 1) return false;
        int channels = (int)full.shape[0], mapHeight = (int)full.shape[1], mapWidth = (int)full.shape[2];
        // Each window's first cell in the map (may be outside it), and its part inside the map (Window) in window cells.
        var origins = items.Select(i => (Y: i.At.GridY - r, X: i.At.GridX - r)).ToArray();
        var inMap = items.Select((i, j) =>
        {
            var w = Window(level, i.At);
            return (w.Y0 - origins[j].Y, w.Y1 - origins[j].Y, w.X0 - origins[j].X, w.X1 - origins[j].X);
        }).ToArray();
        var crops = new float[n * channels * size * size];
        using (var contiguous = full.contiguous())
        {
            var source = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(contiguous.bytes);
            for (int j = 0; j < n; j++)
            {
                var (y0, y1, x0, x1) = inMap[j];
                for (int c = 0; c < channels; c++)
                    for (int y = y0; y < y1; y++)
                        source.Slice((c * mapHeight + origins[j].Y + y) * mapWidth + origins[j].X + x0, x1 - x0)
                            .CopyTo(crops.AsSpan(((j * channels + c) * size + y) * size + x0, x1 - x0));
            }
        }
        bool edges = inMap.Any(m => m != (0, size, 0, size));
        using var pass = program.Forward(crops, n, size, edges ? inMap : null);
        // The output is each window's centre cell: (n, anchors x columns) logits.
        var logits = pass.Values(program.Output);
        var seed = new float[n * outChannels];
        for (int j = 0; j < n; j++)
        {
            int first = j * outChannels + items[j].At.Anchor * columns;
            logits.Slice(first, columns).CopyTo(row);
            Array.Clear(rowGradient);
            target.ScoreGradient(row, items[j].Detection.ClassId, layout, rowGradient);
            rowGradient.CopyTo(seed.AsSpan(first, columns));
        }
        pass.Backward(seed);
        var nodes = targets.Select(t => t.Layer == root ? program.Input : program.HeadInput!.Value).ToArray();
        var grads = nodes.Select(node => tensor(pass.Gradient(node).ToArray(), [n, program.Channels(node), pass.SideOf(node), pass.SideOf(node)])).ToArray();
        for (int j = 0; j < n; j++)
        {
            var placed = new Dictionary<ExplainTarget, WindowedGradient>();
            for (int k = 0; k < targets.Count; k++)
            {
                // The node's cells start (size - side) / 2 cells into the window; only those inside the map are placed.
                var map = output.Activations[targets[k].Layer];
                int s = pass.SideOf(nodes[k]), margin = (size - s) / 2, height = (int)map.shape[2], width = (int)map.shape[3];
                int top = origins[j].Y + margin, left = origins[j].X + margin;
                int r0 = Math.Max(0, -top), r1 = Math.Min(s, height - top), c0 = Math.Max(0, -left), c1 = Math.Min(s, width - left);
                var part = grads[k][j].narrow(1, r0, r1 - r0).narrow(2, c0, c1 - c0);
                placed[targets[k]] = new WindowedGradient(part, top + r0, left + c0, height, width);
            }
            _done[(batchIndex, items[j].Detection.Row, items[j].Detection.ClassId)] = placed;
        }
        return true;
    }

    public IReadOnlyDictionary<ExplainTarget, WindowedGradient> Gradients(int batchIndex, Detection.Detection detection, int level, IReadOnlyList<ExplainTarget> targets)
    {
        if (_done.Remove((batchIndex, detection.Row, detection.ClassId), out var ready)) return ready;
        var at = model.Layout.Locate(detection.Row, height, width);
        var w = Window(level, at);
        var crops = new Dictionary<int, Tensor>();
        foreach (var root in windows.Roots(level))
            crops[root] = output.Activations[root][batchIndex].unsqueeze(0).narrow(2, w.Y0, w.Y1 - w.Y0).narrow(3, w.X0, w.X1 - w.X0)
                .detach().contiguous().requires_grad_(true);
        var logits = windows.Recompute(level, crops);
        int h = w.Y1 - w.Y0, wd = w.X1 - w.X0;
        long row = ((long)at.Anchor * h + (at.GridY - w.Y0)) * wd + (at.GridX - w.X0);
        var score = target.Score(logits[0, row], detection.ClassId, model.Layout);
        var grads = torch.autograd.grad([score], targets.Select(t => crops[t.Layer]).ToArray());
        return Placed(targets, w, k => grads[k][0]);
    }

    // Each window's gradients with their place in the map (the score does not depend on anything outside). A layer
    // recomputed without padding covers the window less the same margin on every side.
    private Dictionary<ExplainTarget, WindowedGradient> Placed(IReadOnlyList<ExplainTarget> targets, (int Y0, int Y1, int X0, int X1) w, Func<int, Tensor> gradient)
    {
        var result = new Dictionary<ExplainTarget, WindowedGradient>();
        for (int k = 0; k < targets.Count; k++)
        {
            var full = output.Activations[targets[k].Layer];
            var part = gradient(k);
            int marginY = (int)(w.Y1 - w.Y0 - part.shape[1]) / 2, marginX = (int)(w.X1 - w.X0 - part.shape[2]) / 2;
            result[targets[k]] = new WindowedGradient(part, w.Y0 + marginY, w.X0 + marginX, (int)full.shape[2], (int)full.shape[3]);
        }
        return result;
    }
}
