using StreamAnalyzer.Pipeline.Model.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model;

/// <summary>What a family's builder makes of a checkpoint: the layers in order, how they connect, and the head.</summary>
/// <param name="Layers">The layers; the last one is <paramref name="Head"/>.</param>
/// <param name="From">Each layer's inputs as absolute layer indices (-1: the network input).</param>
/// <param name="Modules">Each layer's module type as upstream names it (<c>Conv</c>, <c>C2f</c>, <c>nn.Upsample</c>, <c>IDetect</c>).</param>
/// <param name="Head">The detect head.</param>
/// <param name="HeadFrom">The layers that feed the head, one per level.</param>
internal sealed record NetworkBlueprint(IReadOnlyList<nn.Module> Layers, IReadOnlyList<int[]> From, IReadOnlyList<string> Modules,
    DetectionHead Head, int[] HeadFrom);
