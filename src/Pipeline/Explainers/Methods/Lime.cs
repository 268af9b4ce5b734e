using OpenCvSharp;
using OpenCvSharp.XImgProc;
using StreamAnalyzer.Pipeline.Explainers.Perturbation;
using StreamAnalyzer.Pipeline.Runtime;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Explainers.Methods;

/// <summary>
/// LIME for a detection (Ribeiro et al. 2016, as the <c>lime</c> package explains images): the input is cut into
/// superpixels (OpenCV's SLICO, about <see cref="SuperpixelsAcross"/> across); each of
/// <see cref="PerturbationOptions.Samples"/> samples (default <see cref="DefaultSamples"/>; the first keeps
/// everything) switches superpixels off at random, painting them grey, and is scored by the detection's re-found
/// score; a ridge regression (alpha 1, with intercept) weighted by the package's kernel on the cosine distance to
/// the whole image (width 0.25) gives each superpixel a coefficient, and the map shows the positive ones. One set
/// of samples, drawn from <see cref="PerturbationOptions.Seed"/>, serves all the detections of an image.
/// </summary>
public sealed class Lime : CamMethod
{
    /// <summary>Samples per image unless <see cref="PerturbationOptions.Samples"/> says otherwise.</summary>
    public const int DefaultSamples = 300;

    /// <summary>Superpixels across the shorter side of the input.</summary>
    public const int SuperpixelsAcross = 10;

    private const float Grey = 0.5f;
    private const double KernelWidth = 0.25;
    private const double RidgeAlpha = 1.0;

    /// <inheritdoc/>
    public override string Name => "lime";

    /// <inheritdoc/>
    public override bool NeedsGradients => false;

    /// <inheritdoc/>
    public override bool ExplainsInput => true;

    /// <inheritdoc/>
    public override bool Perturbs => true;

    /// <inheritdoc/>
    public override IReadOnlyList<Tensor?> InputMaps(IReadOnlyList<CamContext> detections)
    {
        var first = detections[0];
        int height = first.Height, width = first.Width, count = first.Perturbation.SamplesFor(DefaultSamples);
        var (labels, segments) = Superpixels(first.Input);
        var labelIndex = tensor(labels, dtype: ScalarType.Int64, device: first.Input.device);
        using var generator = new Generator((ulong)first.Perturbation.Seed);
        var samples = rand([count, segments], generator: generator).lt(TorchScalars.Of(0.5)).to(ScalarType.Float32);
        samples[0] = ones(segments);
        var input = first.Input.unsqueeze(0);
        var scores = first.Rerun.Score(count, (start, n) =>
        {
            var keep = samples[start..(start + n)].to(input.device).index_select(1, labelIndex).view(n, 1, height, width).to(input.dtype);
            return (input * keep).Plus(keep.OneMinus().mul(TorchScalars.Of(Grey)));
        }, detections.Select(d => d.Target).ToArray(), DetectionMatch.Refound);

        var z = samples.to(ScalarType.Float64).data<double>().ToArray();
        var weights = new double[count];
        for (int i = 0; i < count; i++)
        {
            double on = 0;
            for (int s = 0; s < segments; s++) on += z[i * segments + s];
            double distance = on == 0 ? 1 : 1 - on / (Math.Sqrt(on) * Math.Sqrt(segments));
            weights[i] = Math.Sqrt(Math.Exp(-distance * distance / (KernelWidth * KernelWidth)));
        }
        return scores.Select(y =>
        {
            var coefficients = WeightedRidge(z, count, segments, y, weights);
            var perPixel = new float[labels.Length];
            for (int p = 0; p < labels.Length; p++) perPixel[p] = (float)coefficients[labels[p]];
            return (Tensor?)nn.functional.relu(tensor(perPixel).view(height, width));
        }).ToArray();
    }

    // SLICO superpixels of the input (in Lab, as the lime package segments), labels row-major.
    private static (long[] Labels, int Count) Superpixels(Tensor input)
    {
        int height = (int)input.shape[1], width = (int)input.shape[2];
        using var hwc = input.to(ScalarType.Float32).mul(TorchScalars.Of(255.0)).clamp(TorchScalars.Of(0.0), TorchScalars.Of(255.0)).to(ScalarType.Byte).permute(1, 2, 0).contiguous().cpu();
        var pixels = hwc.bytes.ToArray();
        using var rgb = Mat.FromPixelData(height, width, MatType.CV_8UC3, pixels);
        using var lab = new Mat();
        Cv2.CvtColor(rgb, lab, ColorConversionCodes.RGB2Lab);
        int region = Math.Max(4, Math.Min(height, width) / SuperpixelsAcross);
        using var slic = SuperpixelSLIC.Create(lab, SLICType.SLICO, region, 10f);
        slic.Iterate(10);
        slic.EnforceLabelConnectivity(25);
        using var labelMat = new Mat();
        slic.GetLabels(labelMat);
        labelMat.GetArray(out int[] raw);
        // Dense labels 0..count-1 (connectivity enforcement can leave gaps).
        var dense = new Dictionary<int, long>();
        var labels = new long[raw.Length];
        for (int i = 0; i < raw.Length; i++)
        {
            if (!dense.TryGetValue(raw[i], out long l)) dense[raw[i]] = l = dense.Count;
            labels[i] = l;
        }
        return (labels, dense.Count);
    }

    // Ridge regression with intercept and sample weights, as scikit-learn's Ridge fits it: centre X and y with the
    // weighted means, then solve (Xc' W Xc + alpha I) b = Xc' W yc.
    private static double[] WeightedRidge(double[] x, int rows, int columns, float[] y, double[] w)
    {
        double wSum = w.Sum();
        var meanX = new double[columns];
        double meanY = 0;
        for (int i = 0; i < rows; i++)
        {
            meanY += w[i] * y[i];
            for (int j = 0; j < columns; j++) meanX[j] += w[i] * x[i * columns + j];
        }
        meanY /= wSum;
        for (int j = 0; j < columns; j++) meanX[j] /= wSum;
        var a = new double[columns, columns];
        var b = new double[columns];
        var centred = new double[columns];
        for (int i = 0; i < rows; i++)
        {
            for (int j = 0; j < columns; j++) centred[j] = x[i * columns + j] - meanX[j];
            double yc = y[i] - meanY;
            for (int j = 0; j < columns; j++)
            {
                double wj = w[i] * centred[j];
                b[j] += wj * yc;
                for (int k = j; k < columns; k++) a[j, k] += wj * centred[k];
            }
        }
        for (int j = 0; j < columns; j++)
        {
            a[j, j] += RidgeAlpha;
            for (int k = 0; k < j; k++) a[j, k] = a[k, j];
        }
        return SolveSymmetric(a, b);
    }

    // Cholesky solve of a symmetric positive-definite system (the ridge term keeps it so).
    private static double[] SolveSymmetric(double[,] a, double[] b)
    {
        int n = b.Length;
        var l = new double[n, n];
        for (int j = 0; j < n; j++)
        {
            double d = a[j, j];
            for (int k = 0; k < j; k++) d -= l[j, k] * l[j, k];
            l[j, j] = Math.Sqrt(d);
            for (int i = j + 1; i < n; i++)
            {
                double s = a[i, j];
                for (int k = 0; k < j; k++) s -= l[i, k] * l[j, k];
                l[i, j] = s / l[j, j];
            }
        }
        var z = new double[n];
        for (int i = 0; i < n; i++)
        {
            double s = b[i];
            for (int k = 0; k < i; k++) s -= l[i, k] * z[k];
            z[i] = s / l[i, i];
        }
        var solution = new double[n];
        for (int i = n - 1; i >= 0; i--)
        {
            double s = z[i];
            for (int k = i + 1; k < n; k++) s -= l[k, i] * solution[k];
            solution[i] = s / l[i, i];
        }
        return solution;
    }
}
