using System.Text.Json;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Explainers;
using StreamAnalyzer.Pipeline.Explainers.Methods;
using StreamAnalyzer.Pipeline.Explainers.Targets;
using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Numpy;
using StreamAnalyzer.Pipeline.Tests.Support;
using static TorchSharp.torch;
using DetectionBox = StreamAnalyzer.Pipeline.Detection.Detection;

namespace StreamAnalyzer.Pipeline.Tests.Explainers;

/// <summary>
/// Our GradCAM and GradCAM++ against the reference implementation's maps for yolov7-tiny-shapes at layers 74-76
/// (../shared/fixtures/shapes/cam): Pearson at least 0.99 and max difference at most 0.02 where the reference is not NaN;
/// all zeros where it is.
/// </summary>
public class ReferenceCamParityTests
{
    private static readonly Lazy<YoloModel?> Model = new(() =>
        Fixtures.Has("shapes", "yolov7-tiny-shapes.pt") ? YoloModel.Load(Path.Combine(Fixtures.SharedRoot, "shapes", "yolov7-tiny-shapes.pt")) : null);

    public static TheoryData<string, string, string> Cases()
    {
        var data = new TheoryData<string, string, string>();
        string path = Path.Combine(Fixtures.SharedRoot, "shapes", "cam", "manifest.json");
        if (!File.Exists(path)) { data.Add("missing-manifest", "", ""); return data; }
        foreach (var image in JsonDocument.Parse(File.ReadAllText(path)).RootElement.GetProperty("images").EnumerateArray())
            foreach (var map in image.GetProperty("maps").EnumerateArray())
                data.Add(image.GetProperty("image").GetString()!, map.GetProperty("method").GetString()!, map.GetProperty("layer").GetString()!);
        return data;
    }

    [SkippableTheory]
    [MemberData(nameof(Cases))]
    public void MapsMatchTheReference(string image, string method, string layer)
    {
        var manifest = JsonDocument.Parse(File.ReadAllText(Fixtures.Require("shapes", "cam", "manifest.json"))).RootElement;
        var entry = manifest.GetProperty("images").EnumerateArray().Single(i => i.GetProperty("image").GetString() == image);
        var mapsEntry = entry.GetProperty("maps").EnumerateArray().Single(m => m.GetProperty("method").GetString() == method && m.GetProperty("layer").GetString() == layer);
        var model = Model.Value!;
        var input = NpyArray.Read(Fixtures.Require("shapes", "cam", entry.GetProperty("input").GetString()!));

        using var scope = NewDisposeScope();
        var x = tensor(input.Data, input.Shape);
        List<NonMaxSuppression.Candidate> ours;
        using (no_grad()) ours = NonMaxSuppression.Run(model.forward(x), model.Layout, new NmsOptions(0.45f, 0.45f).WithDefaults(model.Family.Defaults))[0];

        var explainer = new CamExplainer(model, CamMethod.Parse(method), new ClassLogitTarget(), LayerSelection.Parse(layer, model));
        foreach (var want in mapsEntry.GetProperty("detections").EnumerateArray())
        {
            int cls = want.GetProperty("class").GetInt32();
            var box = want.GetProperty("box_xyxy_input").EnumerateArray().Select(v => v.GetSingle()).ToArray();
            var match = ours.Where(c => c.ClassId == cls)
                .OrderBy(c => Math.Abs(c.Box.X1 - box[0]) + Math.Abs(c.Box.Y1 - box[1]) + Math.Abs(c.Box.X2 - box[2]) + Math.Abs(c.Box.Y2 - box[3])).First();
            Assert.True(Math.Abs(match.Box.X1 - box[0]) <= 2 && Math.Abs(match.Box.Y2 - box[3]) <= 2, "reference detection not found");
            var detection = new DetectionBox(match.Box, match.Box, cls, "", match.Score, match.Row);

            var map = explainer.Explain(x, [detection])[0].Maps.Single();
            var reference = NpyArray.Read(Fixtures.Require("shapes", "cam", want.GetProperty("map").GetString()!));
            Assert.Equal(reference.Data.Length, map.Values.Length);
            if (want.GetProperty("map_is_nan").GetBoolean())
            {
                Assert.True(map.IsConstant, $"det {want.GetProperty("index")}: the reference map is NaN (zero gradient); ours should be constant");
                Assert.All(map.Values, v => Assert.Equal(0f, v));
                continue;
            }
            double maxDiff = map.Values.Zip(reference.Data).Max(p => Math.Abs(p.First - p.Second));
            double r = Pearson(map.Values, reference.Data);
            Assert.True(r >= 0.99 && maxDiff <= 0.02, $"{image} {method} {layer} det {want.GetProperty("index")}: pearson {r:F4}, max diff {maxDiff:F4}");
        }
    }

    internal static double Pearson(float[] a, float[] b)
    {
        double ma = a.Average(), mb = b.Average(), sab = 0, saa = 0, sbb = 0;
        for (int i = 0; i < a.Length; i++)
        {
            double da = a[i] - ma, db = b[i] - mb;
            sab += da * db; saa += da * da; sbb += db * db;
        }
        return sab / Math.Sqrt(saa * sbb);
    }
}
