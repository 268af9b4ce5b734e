using System.Text.Json.Serialization;
using StreamAnalyzer.Pipeline.Application;
using StreamAnalyzer.Pipeline.Detection;
using StreamAnalyzer.Pipeline.Streaming;

namespace StreamAnalyzer.Cluster;

/// <summary>
/// A camera as the cluster keeps it: what to read, which model, and how to explain. Paths (source, weights) are read on
/// whichever worker runs the camera, so they must mean the same on every worker (a URL, or a shared or copied file).
/// </summary>
public sealed record CameraSpec
{
    /// <summary>Unique name (letters, digits, '-', '_').</summary>
    [JsonPropertyName("name")] public required string Name { get; init; }

    /// <summary>Stream URL, camera index or video file.</summary>
    [JsonPropertyName("source")] public required string Source { get; init; }

    /// <summary>Checkpoint path on the workers.</summary>
    [JsonPropertyName("weights")] public required string Weights { get; init; }

    /// <summary>Model input size.</summary>
    [JsonPropertyName("img_size")] public int ImageSize { get; init; } = 640;

    /// <summary>Confidence threshold (null: the model family's default).</summary>
    [JsonPropertyName("conf_thres")] public float? ConfThreshold { get; init; }

    /// <summary>Explanation method.</summary>
    [JsonPropertyName("cam_method")] public string Method { get; init; } = "gradcam";

    /// <summary>Layers explained.</summary>
    [JsonPropertyName("layers")] public string Layers { get; init; } = "auto";

    /// <summary>Explain every Nth frame (0: never).</summary>
    [JsonPropertyName("cam_every")] public int CamEvery { get; init; }

    /// <summary>Detections explained per explained frame.</summary>
    [JsonPropertyName("top_k")] public int TopK { get; init; } = 3;

    /// <summary>Record an annotated MP4 on the worker's disk.</summary>
    [JsonPropertyName("record")] public bool Record { get; init; }

    /// <summary>The run plan a worker builds for this camera.</summary>
    /// <param name="firstFrame">Number of the first frame (where the camera's results stopped).</param>
    /// <param name="outputFolder">Where the worker writes this camera's JSON lines and recording.</param>
    /// <param name="last">The camera's last stored result: a live source's timeline goes on from it.</param>
    public RunPlan ToPlan(long firstFrame, string outputFolder, StoredResult? last = null)
    {
        string stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", System.Globalization.CultureInfo.InvariantCulture);
        string stem = Path.Combine(outputFolder, Name, $"{Name}-{stamp}-from-{firstFrame}");
        var pipeline = new PipelineOptions { CamEvery = CamEvery, TopK = TopK, FirstFrame = firstFrame,
            FirstTimestampMs = last?.TimestampMs ?? 0, TimelineOrigin = last?.TimelineOrigin };
        var controls = new StreamControls { Method = Method, Layers = Layers, TopK = TopK, CamEvery = CamEvery };
        return new RunPlan(Weights, [$"{Name}={Source}"], new DetectorOptions(ImageSize, new NmsOptions(ConfThreshold)), pipeline, controls)
        {
            SaveJson = stem + ".jsonl",
            Save = Record ? stem + ".mp4" : null,
        };
    }
}
