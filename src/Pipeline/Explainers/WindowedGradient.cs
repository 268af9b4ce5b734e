using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers;

/// <summary>
/// dScore/dA of one detection at one layer, given on the window where it can be non-zero: <see cref="Values"/>
/// (C, h, w) sit at rows <see cref="Top"/>.. and columns <see cref="Left"/>.. of the layer's (C, <see cref="Height"/>,
/// <see cref="Width"/>) output, and the gradient is zero everywhere else. Gradients from a backward pass through the
/// whole graph cover the whole map; those taken on a window around the detection cover that window, so maps of
/// methods that work location by location cost the window, not the map.
/// </summary>
/// <param name="Values">The gradient inside the window (C, h, w).</param>
/// <param name="Top">First row of the window in the layer's map.</param>
/// <param name="Left">First column of the window in the layer's map.</param>
/// <param name="Height">Height of the layer's map.</param>
/// <param name="Width">Width of the layer's map.</param>
public sealed record WindowedGradient(Tensor Values, int Top, int Left, int Height, int Width)
{
    /// <summary>A gradient that covers the whole (C, H, W) map.</summary>
    public static WindowedGradient Whole(Tensor values) => new(values, 0, 0, (int)values.shape[1], (int)values.shape[2]);

    /// <summary>True when the window is the whole map.</summary>
    public bool IsWhole => Top == 0 && Left == 0 && Values.shape[1] == Height && Values.shape[2] == Width;

    /// <summary>The window's part of a map of the layer's size: (..., H, W) to (..., h, w), a view.</summary>
    public Tensor Window(Tensor map) => IsWhole ? map : map.narrow(-2, Top, Values.shape[1]).narrow(-1, Left, Values.shape[2]);

    /// <summary>A (..., h, w) result computed on the window, placed in zeros of the layer's size (..., H, W).</summary>
    public Tensor Place(Tensor part)
    {
        if (IsWhole) return part;
        var shape = part.shape.ToArray();
        shape[^2] = Height;
        shape[^1] = Width;
        var full = zeros(shape, dtype: part.dtype, device: part.device);
        Window(full).copy_(part);
        return full;
    }

    /// <summary>The gradient over the whole map (C, H, W), zeros outside the window.</summary>
    public Tensor ToDense() => Place(Values);
}
