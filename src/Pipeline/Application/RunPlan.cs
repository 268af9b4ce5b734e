using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.Pipeline.Application;

/// <summary>Everything a run is built from (the command line, a config file, or a caller of the library).</summary>
/// <param name="Weights">Checkpoint path.</param>
/// <param name="Sources">Source specifications (files, folders, globs, URLs, cameras, lists; <c>name=source</c>).</param>
/// <param name="Detector">Detection settings.</param>
/// <param name="Pipeline">Batching, workers, explanation cadence, live-source handling.</param>
/// <param name="Controls">The settings every stream starts with (method, layers, target, top-K, heatmap...).</param>
public sealed record RunPlan(string Weights, IReadOnlyList<string> Sources, DetectorOptions Detector, PipelineOptions Pipeline, StreamControls Controls)
{
    /// <summary>Fold batch normalisation into convolutions at load.</summary>
    public bool Fuse { get; init; } = true;

    /// <summary>Annotated output: a video file (one video source) or a folder.</summary>
    public string? Save { get; init; }

    /// <summary>Whether recordings show the heatmap.</summary>
    public bool SaveHeatmap { get; init; } = true;

    /// <summary>The x264 preset of recordings (<see cref="Sinks.EncoderPresets"/>; null or <c>auto</c>: chosen by the machine's cores).</summary>
    public string? SavePreset { get; init; }

    /// <summary>JSON lines: a file, or a folder of one file per source.</summary>
    public string? SaveJson { get; init; }

    /// <summary>Folder for yolov7-style label files.</summary>
    public string? SaveTxt { get; init; }

    /// <summary>Add the confidence to label lines.</summary>
    public bool SaveConf { get; init; }

    /// <summary>Seed, sample count and batch size of the perturbation methods (drise, lime, scorecam).</summary>
    public Explainers.Perturbation.PerturbationOptions Perturbation { get; init; } = Explainers.Perturbation.PerturbationOptions.Default;

    /// <summary>Steps of the deletion/insertion curves scored for every explained detection (0: none).</summary>
    public int FaithfulnessSteps { get; init; }
}
