using System.Text.RegularExpressions;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Cluster;

/// <summary>The names of what the cluster keeps in NATS: three key-value buckets and one stream.</summary>
public static partial class ClusterLayout
{
    /// <summary>Bucket of camera settings, one key per camera.</summary>
    public const string CamerasBucket = "stream_analyzer_cameras";

    /// <summary>Bucket of camera leases: key = camera, value = the worker holding it; entries expire after the lease time.</summary>
    public const string LeasesBucket = "stream_analyzer_leases";

    /// <summary>Bucket of worker reports: key = worker; entries expire after the lease time.</summary>
    public const string WorkersBucket = "stream_analyzer_workers";

    /// <summary>Stream of every analysed frame's record.</summary>
    public const string ResultsStream = "STREAM_ANALYZER_RESULTS";

    /// <summary>Subject prefix of the results; one subject per camera below it.</summary>
    public const string ResultsPrefix = "stream-analyzer.results";

    /// <summary>The subject a camera's results are published on.</summary>
    public static string ResultsSubject(string camera) => $"{ResultsPrefix}.{camera}";

    /// <summary>The message id of a camera's frame: the stream drops a second copy (a frame published again after a takeover).</summary>
    public static string MessageId(string camera, long frame) => $"{camera}/{frame}";

    /// <summary>Checks a camera or worker name: it becomes a key and a subject token.</summary>
    /// <exception cref="UserInputException">Empty, too long or with characters other than letters, digits, '-' and '_'.</exception>
    public static string CheckName(string name, string what)
    {
        if (!NamePattern().IsMatch(name))
            throw new UserInputException($"{what} name '{name}': use 1-64 letters, digits, '-' or '_' (it becomes a NATS key and subject)");
        return name;
    }

    [GeneratedRegex("^[A-Za-z0-9_-]{1,64}$")]
    private static partial Regex NamePattern();
}
