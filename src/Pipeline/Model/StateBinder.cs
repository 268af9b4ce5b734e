using StreamAnalyzer.Pipeline.Checkpoints;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model;

/// <summary>Copies a checkpoint's state dict into a network by name, strictly: every key, every shape.</summary>
internal static class StateBinder
{
    public static void Bind(nn.Module network, YoloCheckpoint checkpoint)
    {
        var expected = network.named_parameters().Select(p => (p.name, tensor: (Tensor)p.parameter))
            .Concat(network.named_buffers(include_nonpersistent: false).Select(b => (b.name, tensor: b.buffer)))
            .ToList();
        var expectedNames = expected.Select(e => e.name).ToHashSet();
        var unexpected = checkpoint.State.Keys.Where(k => !expectedNames.Contains(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        if (unexpected.Count > 0)
            throw new CheckpointException(checkpoint.FilePath,
                $"state key '{unexpected[0]}' is not expected by the architecture" + (unexpected.Count > 1 ? $" (and {unexpected.Count - 1} more)" : ""));

        using var noGrad = no_grad();
        foreach (var (name, target) in expected)
        {
            if (!checkpoint.State.TryGetValue(name, out var source))
                throw new CheckpointException(checkpoint.FilePath, $"state key '{name}' is missing from the checkpoint");
            if (!source.Size.SequenceEqual(target.shape))
                throw new CheckpointException(checkpoint.FilePath,
                    $"'{name}' has shape {source.ShapeText} in the checkpoint but the architecture expects ({string.Join(", ", target.shape)})");
            // Both held in variables: a tensor only passed along can be finalised while libtorch still reads it.
            using var value = checkpoint.ReadTensor(source);
            using var converted = value.to(target.dtype);
            target.copy_(converted);
        }
    }
}
