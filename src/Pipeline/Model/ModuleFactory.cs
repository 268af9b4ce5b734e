using StreamAnalyzer.Pipeline.Checkpoints;
using StreamAnalyzer.Pipeline.Model.Layers;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Model;

/// <summary>
/// Builds TorchSharp modules from pickled ones by class name: one maker per class a family's checkpoints use.
/// The pickled module is the ground truth for shapes and settings (channels, strides, groups, eps, which residuals
/// are on); the maker only knows how the class computes.
/// </summary>
internal sealed class ModuleFactory(IReadOnlyDictionary<string, Func<CheckpointModule, ModuleFactory, nn.Module>> makers)
{
    /// <summary>The makers of the torch.nn classes every family uses.</summary>
    public static IReadOnlyDictionary<string, Func<CheckpointModule, ModuleFactory, nn.Module>> TorchMakers { get; } =
        new Dictionary<string, Func<CheckpointModule, ModuleFactory, nn.Module>>(StringComparer.Ordinal)
        {
            ["torch.nn.modules.conv.Conv2d"] = (n, _) => ModuleHints.Conv2d(n, n.Path),
            ["torch.nn.modules.batchnorm.BatchNorm2d"] = (n, _) => ModuleHints.BatchNorm2d(n,
                n.Long("num_features") ?? throw new ArchitectureException($"{n.Path}: BatchNorm2d has no 'num_features'")),
            ["torch.nn.modules.pooling.MaxPool2d"] = (n, _) => ModuleHints.MaxPool2d(n, 1, 1, 0),
            ["torch.nn.modules.upsampling.Upsample"] = (n, _) => ModuleHints.Upsample(n, n.Path),
            ["torch.nn.modules.container.Sequential"] = (n, f) => nn.Sequential(n.Children
                .OrderBy(c => int.TryParse(c.Key, out int i) ? i : int.MaxValue)
                .Select(c => (c.Key, f.BuildSingle(c.Value))).ToArray()),
            ["torch.nn.modules.activation.SiLU"] = Activation,
            ["torch.nn.modules.activation.LeakyReLU"] = Activation,
            ["torch.nn.modules.activation.ReLU"] = Activation,
            ["torch.nn.modules.activation.Hardswish"] = Activation,
            ["torch.nn.modules.activation.Sigmoid"] = Activation,
            ["torch.nn.modules.activation.Mish"] = Activation,
            ["torch.nn.modules.linear.Identity"] = Activation,
        };

    private static nn.Module Activation(CheckpointModule node, ModuleFactory _) => ModuleHints.Activation(node, ActivationSpec.SiLU, node.Path);

    /// <summary>The classes this factory can build.</summary>
    public IEnumerable<string> Classes => makers.Keys;

    /// <summary>Builds the module for <paramref name="node"/>.</summary>
    /// <exception cref="ArchitectureException">The class is not one this family uses, or the module is inconsistent.</exception>
    public nn.Module Build(CheckpointModule node) =>
        makers.TryGetValue(CheckpointProfile.CanonicalName(node.Type.FullName), out var make) ? make(node, this)
            : throw new ArchitectureException($"'{node.Path}': module '{node.Type.FullName}' is not supported here");

    /// <summary>Builds a module that takes one tensor.</summary>
    public nn.Module<Tensor, Tensor> BuildSingle(CheckpointModule node) =>
        Build(node) as nn.Module<Tensor, Tensor> ?? throw new ArchitectureException($"'{node.Path}': {node.TypeName} does not take a single input here");

    /// <summary>Builds the child <paramref name="name"/> of <paramref name="node"/>, which must be a <typeparamref name="T"/>.</summary>
    public T Child<T>(CheckpointModule node, string name) where T : nn.Module
    {
        var child = ModuleHints.Child(node, name);
        return Build(child) as T ?? throw new ArchitectureException($"'{child.Path}': expected a {typeof(T).Name}, found {child.TypeName}");
    }

    /// <summary>The children of a pickled list or Sequential (<c>m.0</c>, <c>m.1</c>, ...) in order, each built as a single-input module.</summary>
    public nn.Module<Tensor, Tensor>[] Items(CheckpointModule node, string name) =>
        ModuleHints.Child(node, name).Children.OrderBy(c => int.TryParse(c.Key, out int i) ? i : int.MaxValue)
            .Select(c => BuildSingle(c.Value)).ToArray();
}
