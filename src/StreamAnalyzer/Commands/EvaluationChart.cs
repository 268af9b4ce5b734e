using ScottPlot;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>The chart of <c>explain --evaluate</c>: deletion and insertion AUC per method and layers, side by side.</summary>
internal static class EvaluationChart
{
    public static void Save(IReadOnlyList<(string Label, double Deletion, double Insertion)> rows, string path)
    {
        var plot = new Plot();
        var deletion = Colors.C0;
        var insertion = Colors.C1;
        var bars = new List<Bar>();
        for (int i = 0; i < rows.Count; i++)
        {
            bars.Add(new Bar { Position = i * 3, Value = rows[i].Deletion, FillColor = deletion });
            bars.Add(new Bar { Position = i * 3 + 1, Value = rows[i].Insertion, FillColor = insertion });
        }
        plot.Add.Bars(bars);
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            rows.Select((_, i) => i * 3 + 0.5).ToArray(), rows.Select(r => r.Label).ToArray());
        plot.Axes.Bottom.TickLabelStyle.Rotation = 30;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.MiddleLeft;
        plot.Axes.Bottom.MinimumSize = 120;
        plot.Axes.Left.Label.Text = "area under the curve";
        plot.Axes.SetLimitsY(0, 1.05);
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "deletion AUC (lower is better)", FillColor = deletion });
        plot.Legend.ManualItems.Add(new LegendItem { LabelText = "insertion AUC (higher is better)", FillColor = insertion });
        plot.Legend.Alignment = Alignment.UpperRight;
        plot.Title("Faithfulness by method and layers");
        plot.SavePng(path, Math.Max(640, 90 * rows.Count + 200), 520);
    }
}
