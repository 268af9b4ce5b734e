namespace StreamAnalyzer.Pipeline.Model.Onnx;

/// <summary>A layer that can write itself into an ONNX graph, computing exactly what its <c>forward</c> does.</summary>
internal interface IOnnxExportable
{
    /// <summary>Adds the layer's nodes reading <paramref name="inputs"/> (value names) and returns its output's name.</summary>
    string ToOnnx(OnnxGraph graph, IReadOnlyList<string> inputs);
}
