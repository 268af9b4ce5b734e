using OpenCvSharp;
using StreamAnalyzer.Pipeline.Explainers.Perturbation;
using StreamAnalyzer.Pipeline.Model;
using StreamAnalyzer.Pipeline.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Faithfulness;

/// <summary>
/// Deletion and insertion scores of maps (Petsiuk et al. 2018, as RISE measures them): pixels are ranked by the
/// map; in <see cref="Steps"/> steps they are deleted from the input (set to the image's mean colour: set to black,
/// as RISE does, a deleted flat object leaves a black silhouette of the same shape that the detector still finds), or inserted into a blurred
/// copy (Gaussian, sigma a tenth of the input's shorter side: the 11-pixel, sigma-5 blur RISE uses on 224-pixel
/// images leaves the flat shapes of a 320-pixel input detectable, so insertion would start where it ends); the detection is re-found in each image by class and IoU
/// (<see cref="DetectionMatch.Refound"/>). All the images of both curves go through the model in batches. Ties in
/// the map (flat regions, a constant map) are ranked by <see cref="RandomMap"/> from <see cref="PerturbationOptions.Seed"/>. With
/// <paramref name="onnx"/> the images run on ONNX Runtime.
/// </summary>
public sealed class FaithfulnessEvaluator(YoloModel model, PerturbationOptions options, int steps = FaithfulnessEvaluator.DefaultSteps,
    Model.Onnx.OnnxRuntimeModel? onnx = null)
{
    /// <summary>Steps per curve for <c>explain --evaluate</c>.</summary>
    public const int DefaultSteps = 20;

    /// <summary>Steps per curve of the cheap variant <c>run --cam-faithfulness</c> uses (12 images per map).</summary>
    public const int CheapSteps = 5;

    /// <summary>Steps per curve.</summary>
    public int Steps { get; } = steps >= 1 ? steps : throw new ArgumentOutOfRangeException(nameof(steps), "at least one step");

    /// <summary>
    /// Scores <paramref name="map"/> (the letterboxed input's size, row-major) for <paramref name="target"/> on
    /// <paramref name="input"/> (3, H, W), RGB in [0, 1].
    /// </summary>
    public FaithfulnessScore Evaluate(Tensor input, Detection.Detection target, float[] map)
    {
        using var scope = NewDisposeScope();
        int height = (int)input.shape[1], width = (int)input.shape[2];
        if (map.Length != height * width) throw new ArgumentException($"the map has {map.Length} values, the input {height}x{width}", nameof(map));
        // Rank pixels, most important first. Ties (a flat region, a sparse or constant map) are ordered by the seeded
        // random baseline map, so they go in random blobs as the baseline's pixels do: a per-pixel random order would
        // sprinkle deleted dots, which destroys a detection sooner than anything a map points at.
        var tieBreak = tensor(RandomMap(height, width, options.Seed)).to(ScalarType.Float64);
        var values = tensor(map).to(ScalarType.Float64).Plus(tieBreak.mul(TorchScalars.Of(1e-7)));
        var order = values.argsort(descending: true);
        var rank = empty_like(order).index_put_(arange(TorchScalars.Of((long)map.Length), ScalarType.Int64), order).to(input.device);
        var blurred = Blur(input);
        var image = input.unsqueeze(0);
        var fill = image.mean([2, 3], keepdim: true);
        long pixels = map.Length;
        var scores = new PerturbedScoring(model, options, onnx).Score(2 * (Steps + 1), (start, n) =>
        {
            var batch = new List<Tensor>();
            for (int i = start; i < start + n; i++)
            {
                int k = i % (Steps + 1);
                bool deleting = i <= Steps;
                long changed = (long)Math.Round((double)k / Steps * pixels);
                using var threshold = changed.ToScalar(); // alive until lt has read it
                var mask = rank.lt(threshold).view(1, 1, height, width).to(input.dtype);
                var kept = mask.OneMinus();
                batch.Add(deleting ? (image * kept).Plus(fill * mask) : (blurred * kept).Plus(image * mask));
            }
            return cat(batch, 0);
        }, [target], DetectionMatch.Refound)[0];
        var deletion = scores[..(Steps + 1)];
        var insertion = scores[(Steps + 1)..];
        return new FaithfulnessScore(FaithfulnessScore.Area(deletion), FaithfulnessScore.Area(insertion), deletion, insertion);
    }

    /// <summary>
    /// The baseline a map must beat: uniform noise on a coarse grid (<see cref="RandomGridCells"/> cells across),
    /// upsampled bilinearly, drawn from <paramref name="seed"/>. It is as smooth as a CAM map, so it deletes blobs
    /// as they do; pixel-wise noise would instead sprinkle black dots everywhere, which destroys any detection
    /// faster than deleting the object itself and makes every map look worse than chance.
    /// </summary>
    public static float[] RandomMap(int height, int width, int seed)
    {
        using var scope = NewDisposeScope();
        using var generator = new Generator((ulong)seed);
        var coarse = rand([1, 1, RandomGridCells, RandomGridCells], generator: generator);
        var map = nn.functional.interpolate(coarse, [height, width], mode: InterpolationMode.Bilinear, align_corners: false);
        return map.contiguous().data<float>().ToArray();
    }

    /// <summary>Grid cells across the random baseline map.</summary>
    public const int RandomGridCells = 16;

    private static Tensor Blur(Tensor input)
    {
        int height = (int)input.shape[1], width = (int)input.shape[2];
        using var hwc = input.to(ScalarType.Float32).permute(1, 2, 0).contiguous().cpu();
        var pixels = System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(hwc.bytes).ToArray();
        // Blurred in place: the Mat wraps the array the tensor is then made from.
        using (var image = Mat.FromPixelData(height, width, MatType.CV_32FC3, pixels))
            Cv2.GaussianBlur(image, image, new OpenCvSharp.Size(0, 0), Math.Min(height, width) / 10.0);
        return tensor(pixels).view(height, width, 3).permute(2, 0, 1).unsqueeze(0).to(input.device).to(input.dtype);
    }
}
