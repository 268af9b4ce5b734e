using System.CommandLine;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>
/// The detection flags `detect` and `run` share (<c>--img-size --conf-thres --iou-thres --max-det --classes
/// --agnostic-nms --device --half --tf32 --backend</c>), and the <see cref="DetectorOptions"/> they make. Thresholds not given stay
/// open and take the model family's defaults.
/// </summary>
internal sealed class DetectionOptions
{
    private readonly Option<int> _imgSize = CommonOptions.ImageSize();
    private readonly Option<float?> _conf = CommonOptions.ConfThreshold();
    private readonly Option<float?> _iou = CommonOptions.IouThreshold();
    private readonly Option<int?> _maxDet = CommonOptions.MaxDetections();
    private readonly Option<int[]> _classes = CommonOptions.Classes();
    private readonly Option<bool> _agnostic = CommonOptions.AgnosticNms();
    private readonly Option<string> _device = CommonOptions.Device();
    private readonly Option<bool> _half = CommonOptions.Half();
    private readonly Option<bool> _tf32 = CommonOptions.Tf32();
    private readonly Option<InferenceBackend> _backend = CommonOptions.Backend();

    /// <summary>Adds the flags to <paramref name="command"/> at <paramref name="index"/> (help lists them there).</summary>
    public void AddTo(Command command, int index)
    {
        Option[] all = [_imgSize, _conf, _iou, _maxDet, _classes, _agnostic, _device, _half, _tf32, _backend];
        for (int i = 0; i < all.Length; i++) command.Options.Insert(index + i, all[i]);
    }

    /// <summary>Says so when the model's stride rounds <c>--img-size</c> up (upstream's <c>check_img_size</c> warns too).</summary>
    public static void NoteImageSize(Detector detector)
    {
        int requested = detector.Options.ImageSize, used = detector.LetterboxSettings.Height;
        if (requested != used)
            Console.Error.WriteLine($"note: --img-size {requested} is not a multiple of the model's largest stride {detector.Model.MaxStride}: using {used}");
    }

    /// <summary>The detector settings the flags give.</summary>
    public DetectorOptions Read(ParseResult p) => new(
        p.GetValue(_imgSize),
        new NmsOptions(p.GetValue(_conf), p.GetValue(_iou), CommonOptions.ClassSet(p.GetValue(_classes)), p.GetValue(_agnostic),
            MaxDetections: p.GetValue(_maxDet)),
        CommonOptions.ResolveDevice(p.GetValue(_device), p.GetValue(_tf32)),
        p.GetValue(_half), Backend: p.GetValue(_backend));
}
