using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model;

/// <summary>
/// What one forward pass produced. The tensors belong to the dispose scope the forward ran in.
/// </summary>
/// <param name="Pred">Upstream's inference output (B, N, 5+nc): xywh in input pixels, sigmoid objectness and class scores.</param>
/// <param name="Logits">The same rows before the sigmoid and the box decoding (what explainers differentiate).</param>
/// <param name="Activations">Outputs of the layers asked for, by layer index.</param>
/// <param name="Submodules">Outputs of the submodules asked for, by path (<c>102.rbr_dense</c>).</param>
/// <param name="InputHeight">Height of the input batch.</param>
/// <param name="InputWidth">Width of the input batch.</param>
public sealed record ModelOutput(Tensor Pred, Tensor Logits, IReadOnlyDictionary<int, Tensor> Activations,
    IReadOnlyDictionary<string, Tensor> Submodules, int InputHeight, int InputWidth);
