namespace StreamAnalyzer.Pipeline.Tests.Support;

/// <summary>
/// Locates ../shared/fixtures beside the repository root. Where it is missing a test is skipped with the
/// reason, except under CI (CI=true), where a missing fixture fails the test.
/// </summary>
public static class Fixtures
{
    public static string RepositoryRoot { get; } = FindRepositoryRoot();

    public static string SharedRoot => Path.GetFullPath(Path.Combine(RepositoryRoot, "..", "shared", "fixtures"));

    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    /// <summary>The full path of a shared fixture; skips (or fails under CI) when it is absent.</summary>
    public static string Require(params string[] relative)
    {
        var path = Path.Combine([SharedRoot, .. relative]);
        if (File.Exists(path) || Directory.Exists(path)) return path;
        string reason = $"fixture {path} is missing";
        if (InCi) throw new FileNotFoundException($"CI=true and {reason}", path);
        throw new SkipException(reason);
    }

    /// <summary>True when a shared fixture exists (for data-driven member data, which must not throw).</summary>
    public static bool Has(params string[] relative) => File.Exists(Path.Combine([SharedRoot, .. relative]));

    private static string FindRepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "StreamAnalyzer.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("cannot find StreamAnalyzer.sln above the test binaries");
    }
}
