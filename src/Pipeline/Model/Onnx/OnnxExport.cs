using Onnx;
using StreamAnalyzer.Pipeline.Model.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Onnx;

/// <summary>
/// The network as an ONNX model, built from the loaded <see cref="YoloModel"/> itself (no Python, no export step):
/// for one input shape, with the output <c>pred</c> as <see cref="YoloModel.forward"/> returns it, and optionally
/// the outputs of chosen layers (<c>layer12</c>).
/// </summary>
internal static class OnnxExport
{
    /// <summary>Name of the output holding layer <paramref name="index"/>'s activations.</summary>
    public static string LayerOutput(int index) => $"layer{index}";

    public static ModelProto Build(YoloModel model, int batch, int height, int width, IReadOnlyCollection<int> layerOutputs)
    {
        var g = new OnnxGraph(batch, height, width);
        var values = new string[model.Layers.Count];
        (string Pred, string Logits)? head = null;
        for (int i = 0; i < values.Length; i++)
        {
            var inputs = model.Layers[i].From.Select(f => f < 0 ? OnnxGraph.Input : values[f]).ToArray();
            switch (model.LayerModule(i))
            {
                case DetectionHead h:
                    head = h.ToOnnx(g, inputs);
                    values[i] = head.Value.Pred;
                    break;
                case IOnnxExportable own:
                    values[i] = own.ToOnnx(g, inputs);
                    break;
                case var module:
                    values[i] = g.Module(module, inputs[0]);
                    break;
            }
        }
        var outputs = new List<(string, string)> { (head!.Value.Pred, "pred") };
        outputs.AddRange(layerOutputs.Order().Select(i => (values[i], LayerOutput(i))));
        return g.ToModel(outputs);
    }
}
