using Microsoft.Playwright;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Cli.Tests.WebView;

/// <summary>Headless Chromium through Playwright: Debian's chromium package (Playwright's own download is not reachable here).</summary>
public static class Browser
{
    private static readonly string[] Candidates = ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"];

    /// <summary>Launches the browser; skips (fails under CI) when none is installed.</summary>
    public static async Task<(IPlaywright Playwright, IBrowser Browser)> LaunchAsync()
    {
        string? executable = Environment.GetEnvironmentVariable("CHROMIUM_PATH") is { Length: > 0 } given ? given : Candidates.FirstOrDefault(File.Exists);
        if (executable is null)
        {
            if (Fixtures.InCi) throw new InvalidOperationException("CI=true but chromium is not installed (.ci/run installs it)");
            throw new SkipException("chromium is not installed (apt-get install chromium)");
        }
        var playwright = await Playwright.CreateAsync();
        // --no-sandbox: CI and this machine run as root, where Chromium's sandbox refuses to start.
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = executable, Headless = true, Args = ["--no-sandbox", "--disable-dev-shm-usage"],
        });
        return (playwright, browser);
    }
}
