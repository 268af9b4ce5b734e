using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Methods;

/// <summary>
/// How a map is made. A method is given a <see cref="CamContext"/> - the input, the target detection, the layer's
/// activations, gradients on demand and a batched "run the model again on these inputs" - and returns a map:
/// <list type="bullet">
/// <item>gradient methods override only <see cref="Weights(Tensor, Tensor)"/> (channel weights from A (K, u, v) and G = dScore/dA)
/// or <see cref="RawMap(Tensor, Tensor?)"/> (element-wise); the base applies the ReLU, like pytorch-grad-cam;</item>
/// <item>methods that need more override <see cref="Map(CamContext, ExplainTarget)"/> (Score-CAM re-runs the
/// model on activation-masked inputs);</item>
/// <item>methods of the input (<see cref="ExplainsInput"/>: D-RISE, LIME) override <see cref="InputMaps"/>.</item>
/// </list>
/// The shared steps - <see cref="ToInputSize"/> (upsample, normalise) and <see cref="Fuse"/> (layers into one) - can
/// be overridden; <see cref="FrameMaps"/> maps the result onto the frame. Methods are registered in <see cref="CamMethods"/>.
/// </summary>
public abstract class CamMethod
{
    /// <summary>Name used on the command line (<c>--method</c>) and in file names.</summary>
    public abstract string Name { get; }

    /// <summary>False for methods that use the activations alone (EigenCAM): no backward pass is run.</summary>
    public virtual bool NeedsGradients => true;

    /// <summary>
    /// True when the map keeps per-location gradient information (instance-specific at any layer): its value at a
    /// location depends on the gradient and activations there alone, and is zero where the gradient is zero. Such maps
    /// are computed on the gradient's window only (<see cref="WindowedGradient"/>).
    /// </summary>
    public virtual bool IsElementWise => false;

    /// <summary>
    /// True for methods whose maps come from the input alone (D-RISE, LIME): they ignore <c>--layers</c> and make
    /// one input-sized map per detection with <see cref="InputMaps"/>.
    /// </summary>
    public virtual bool ExplainsInput => false;

    /// <summary>True for methods that run the model again on perturbed inputs (a cost in forward passes, not backward).</summary>
    public virtual bool Perturbs => false;

    /// <summary>
    /// The (u, v) map of one layer for the context's detection, before upsampling and normalisation; null where
    /// the layer does not reach the detection (a constant map). By default <see cref="Map(Tensor, Tensor?)"/> of
    /// the layer's activations and, for gradient methods, their gradients.
    /// </summary>
    public virtual Tensor? Map(CamContext context, ExplainTarget layer)
    {
        if (!NeedsGradients) return Map(context.Activations(layer), null);
        return context.GradientWindow(layer) is { } gradients ? nn.functional.relu(RawMap(context.Activations(layer), gradients)) : null;
    }

    /// <summary>
    /// For <see cref="ExplainsInput"/> methods: the raw (H, W) map of each detection of one image (null for a
    /// constant one). All detections of an image come together so that they can share perturbed images.
    /// </summary>
    public virtual IReadOnlyList<Tensor?> InputMaps(IReadOnlyList<CamContext> detections) =>
        throw new NotSupportedException($"{Name} explains layers, not the input");

    /// <summary>The (u, v) map before upsampling and normalisation.</summary>
    public Tensor Map(Tensor activations, Tensor? gradients) => nn.functional.relu(RawMap(activations, gradients));

    /// <summary>
    /// Shared step: upsamples a raw map to the input (bilinear with pixel centres aligned, as the reference's
    /// align_corners=False) and min-max normalises it; null for a constant map, where the reference divides 0 by 0.
    /// </summary>
    public virtual float[]? ToInputSize(Tensor raw, int height, int width) => MapSteps.Normalise(raw, height, width);

    /// <summary>Shared step: fuses the normalised maps of several layers into one (sum, renormalised); null when constant.</summary>
    public virtual float[]? Fuse(IReadOnlyList<float[]> maps)
    {
        if (maps.Count == 0) return null;
        var fused = (float[])maps[0].Clone();
        foreach (var other in maps.Skip(1)) MapSteps.Add(fused, other);
        return MapSteps.Renormalise(fused) ? fused : null;
    }

    /// <summary>
    /// The raw map from a gradient given on its window: for <see cref="IsElementWise"/> methods computed on the window
    /// and placed in zeros, otherwise <c>sum_k w_k A_k</c> with the channel weights of
    /// <see cref="Weights(Tensor, WindowedGradient)"/>.
    /// </summary>
    protected virtual Tensor RawMap(Tensor activations, WindowedGradient gradients) =>
        gradients.IsWhole ? RawMap(activations, gradients.Values)
        : IsElementWise ? gradients.Place(RawMap(gradients.Window(activations), gradients.Values))
        : WeightedSum(Weights(activations, gradients), activations);

    /// <summary>
    /// Channel weights (K) from a gradient given on a window that is not the whole map: by default
    /// <see cref="Weights(Tensor, Tensor)"/> of the dense gradient; methods whose weights need only the window override it.
    /// </summary>
    protected virtual Tensor Weights(Tensor activations, WindowedGradient gradients) => Weights(activations, gradients.ToDense());

    /// <summary>By default <c>sum_k w_k A_k</c> with the channel weights of <see cref="Weights(Tensor, Tensor)"/>.</summary>
    protected virtual Tensor RawMap(Tensor activations, Tensor? gradients) => WeightedSum(Weights(activations, gradients!), activations);

    /// <summary><c>sum_k w_k A_k</c>: channel weights (K) applied to activations (K, u, v).</summary>
    protected static Tensor WeightedSum(Tensor weights, Tensor activations) => (weights.view(-1, 1, 1) * activations).sum(0L);

    /// <summary>Gradient x activation per location, summed over channels (HiResCAM's map, ODAM's heat map).</summary>
    protected static Tensor GradientTimesActivation(Tensor activations, Tensor gradients) => (gradients * activations).sum(0L);

    /// <summary>One weight per channel (K).</summary>
    protected virtual Tensor Weights(Tensor activations, Tensor gradients) =>
        throw new NotSupportedException($"{Name} computes its map directly");

    /// <summary>The method named <paramref name="name"/>, (see <see cref="CamMethods"/>).</summary>
    public static CamMethod Parse(string name) => CamMethods.Create(name);
}
