using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model.Layers;

/// <summary>A layer fed by several earlier layers (<c>from</c> is a list): Concat, Shortcut, the detect heads.</summary>
public abstract class MultiInputLayer(string name) : nn.Module<IReadOnlyList<Tensor>, Tensor>(name);
