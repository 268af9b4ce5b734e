using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;
using StreamAnalyzer.Pipeline.Tests.Support;
using static StreamAnalyzer.Cli.Tests.ChildProcesses;
using static StreamAnalyzer.Cli.Tests.Media;

namespace StreamAnalyzer.Cli.Tests.WebView;

/// <summary>
/// <c>run --serve</c> with real parts: RTSP cameras (rtsp-server-perl fed by ffmpeg), the program as a child process,
/// and headless Chromium driving the page.
/// </summary>
[Collection(LiveStreams.Collection)]
public class WebViewTests
{
    private static readonly string Shots = Path.Combine(Path.GetTempPath(), "stream-analyzer-web");

    private static string[] Records(string path) => File.Exists(path) ? File.ReadAllLines(path).Where(l => l.Length > 0).ToArray() : [];

    private static async Task<JsonElement> StateAsync(HttpClient http) =>
        JsonDocument.Parse(await http.GetStringAsync("api/state")).RootElement;

    private static JsonElement Stream(JsonElement state, string name) =>
        state.GetProperty("streams").EnumerateArray().First(s => s.GetProperty("name").GetString() == name);

    private static async Task Eventually(Func<Task<bool>> condition, TimeSpan timeout, Func<string> failure)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition()) return;
            await Task.Delay(250);
        }
        Assert.Fail(failure());
    }

    [SkippableFact]
    public async Task ThePageShowsLiveTilesTheControlsReachThePipelineAndACameraRestartsAlone()
    {
        Need("rtsp-server-perl", "ffmpeg");
        var (playwright, browser) = await Browser.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        using var north = new RtspCamera();
        using var south = new RtspCamera();
        using var dir = new TempDirectory();
        string outputs = dir.File("out") + "/";
        using var run = CliProcess.Start(null, "run", "--weights", Fixtures.ShapesModel, "--img-size", "160", "--cam-every", "2",
            "--source", $"north={north.Url}", "--source", $"south={south.Url}", "--serve", "127.0.0.1:0", "--save-json", outputs, "--duration", "240");
        string url = run.WaitForError(@"web view: (http://\S+)", TimeSpan.FromSeconds(60)).Groups[1].Value;
        using var http = new HttpClient { BaseAddress = new Uri(url) };
        try
        {
            await WatchTwoCamerasAsync(browser, url, http, north, outputs);
        }
        catch (Exception e) when (e is not SkipException)
        {
            // What the run and the cameras said is what explains a failure here.
            string state = run.HasExited ? "(the run has ended)" : await http.GetStringAsync("api/state");
            throw new Xunit.Sdk.XunitException($"{e.Message}\n--- state: {state}\n--- run:\n{run.StdErr}\n--- cameras:\n{string.Join("\n", Output.TakeLast(30))}", e);
        }
        Assert.Equal(130, run.Interrupt(TimeSpan.FromSeconds(60)));
        Assert.True(Records(Path.Combine(outputs, "north.jsonl")).Length > 0 && Records(Path.Combine(outputs, "south.jsonl")).Length > 0);
    }

    private static async Task WatchTwoCamerasAsync(IBrowser browser, string url, HttpClient http, RtspCamera north, string outputs)
    {
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1300, Height = 900 } });
        await page.GotoAsync(url, new() { WaitUntil = WaitUntilState.DOMContentLoaded }); // MJPEG images never finish "loading"
        Directory.CreateDirectory(Shots);

        // A tile per stream, whose picture changes as frames arrive.
        var northTile = page.Locator("article.tile[data-stream=north]");
        await northTile.Locator(".state", new() { HasText = "running" }).WaitForAsync(new() { Timeout = 60000 });
        await page.Locator("article.tile[data-stream=south] .state", new() { HasText = "running" }).WaitForAsync(new() { Timeout = 60000 });
        await page.WaitForFunctionAsync("() => document.querySelector('article[data-stream=north] img.video').naturalWidth > 0", null, new() { Timeout = 30000 });
        var video = northTile.Locator("img.video");
        byte[] first = await video.ScreenshotAsync();
        await Task.Delay(1500);
        byte[] second = await video.ScreenshotAsync();
        Assert.NotEqual(Convert.ToBase64String(first), Convert.ToBase64String(second));
        await page.ScreenshotAsync(new() { Path = Path.Combine(Shots, "page.png") });

        // The detections list follows the stream.
        var rows = northTile.Locator("table.detections tr");
        await Eventually(async () => await rows.CountAsync() > 0, TimeSpan.FromSeconds(20), () => "no detection was listed");
        string listed = await northTile.Locator("table.detections").InnerTextAsync();
        Assert.Matches("circle|square|triangle", listed);
        await Eventually(async () => await northTile.Locator("table.detections").InnerTextAsync() != listed, TimeSpan.FromSeconds(20),
            () => "the detections list never changed");

        // A control changed on the page reaches the pipeline: the JSON lines name the new method from then on.
        await page.SelectOptionAsync("#c-method", "odam");
        await page.Locator("#c-status", new() { HasText = "applied" }).WaitForAsync(new() { Timeout = 10000 });
        string northJson = Path.Combine(outputs, "north.jsonl");
        int before = Records(northJson).Length;
        await Eventually(() => Task.FromResult(Records(northJson).Skip(before + 4).Any(l => l.Contains("\"method\":\"odam\""))), TimeSpan.FromSeconds(30),
            () => "no explained frame with odam after the change");
        Assert.DoesNotContain(Records(northJson).Skip(before + 4), l => l.Contains("\"method\":\"gradcam\""));

        // The same through the JSON API, for one stream only: south stops explaining, north goes on.
        var reply = await http.PostAsJsonAsync("api/streams/south/controls", new { cam_every = 0, conf = 0.5 });
        Assert.Equal(HttpStatusCode.OK, reply.StatusCode);
        string southJson = Path.Combine(outputs, "south.jsonl");
        int southBefore = Records(southJson).Length, northBefore = Records(northJson).Length;
        await Eventually(() => Task.FromResult(Records(southJson).Length > southBefore + 30 && Records(northJson).Length > northBefore + 30), TimeSpan.FromSeconds(60),
            () => "the streams stopped after the API change");
        var southLater = Records(southJson).Skip(southBefore + 5).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.All(southLater, r => Assert.False(r.GetProperty("explained").GetBoolean()));
        Assert.All(southLater.SelectMany(r => r.GetProperty("detections").EnumerateArray()), d => Assert.True(d.GetProperty("confidence").GetSingle() >= 0.5f));
        Assert.Contains(Records(northJson).Skip(northBefore + 5), l => l.Contains("\"explained\":true"));
        var invalid = await http.PostAsJsonAsync("api/controls", new { method = "nonsense" });
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        Assert.Contains("not a CAM method", await invalid.Content.ReadAsStringAsync());

        // Clicking an explained detection opens its own map.
        var mapButton = northTile.Locator(".map-button").First;
        await mapButton.WaitForAsync(new() { Timeout = 20000 });
        await mapButton.ClickAsync();
        await page.WaitForFunctionAsync("() => document.getElementById('map-dialog').open && document.getElementById('map-image').naturalWidth > 0", null, new() { Timeout = 10000 });
        await page.ScreenshotAsync(new() { Path = Path.Combine(Shots, "map.png") });
        await page.Keyboard.PressAsync("Escape");

        // One camera goes away and comes back; the other keeps running throughout, and the page shows both states.
        north.StopPublisher();
        await northTile.Locator(".state", new() { HasText = "reconnecting" }).WaitForAsync(new() { Timeout = 30000 });
        Assert.Contains("\"status\":\"degraded\"", await http.GetStringAsync("healthz")); // a probe sees the outage at once
        long southDuring = Stream(await StateAsync(http), "south").GetProperty("processed").GetInt64();
        await Task.Delay(3000);
        Assert.Equal("running", Stream(await StateAsync(http), "south").GetProperty("state").GetString());
        Assert.True(Stream(await StateAsync(http), "south").GetProperty("processed").GetInt64() > southDuring + 10, "south stalled while north was down");
        north.StartPublisher();
        await northTile.Locator(".state", new() { HasText = "running" }).WaitForAsync(new() { Timeout = 60000 });
        Assert.True(Stream(await StateAsync(http), "north").GetProperty("reconnects").GetInt64() >= 1);

        // Operations endpoints.
        Assert.Contains("\"status\":\"ok\"", await http.GetStringAsync("healthz"));
        string metrics = await http.GetStringAsync("metrics");
        Assert.Matches(@"streamanalyzer_frames_total\{stream=""north""\} [1-9]", metrics);
        Assert.Matches(@"streamanalyzer_reconnects_total\{stream=""north""\} [1-9]", metrics);
        Assert.Contains("streamanalyzer_latency_seconds_bucket{stream=\"south\"", metrics);
    }

    [SkippableFact]
    public async Task AnotherMachineCanOnlyConnectWithTheToken()
    {
        Need("ffmpeg");
        var refused = CliProcess.Run(TimeSpan.FromSeconds(60), "run", "--weights", Fixtures.ShapesModel, "--source", Fixtures.DemoClip, "--serve", "0.0.0.0:0");
        Assert.Equal(1, refused.ExitCode);
        Assert.Contains("a token is required", refused.StdErr);
        Assert.DoesNotContain("   at ", refused.All);
        // An address this machine does not have (TEST-NET-1, RFC 5737) is a clear error too, not a stack trace.
        var foreign = CliProcess.Run(TimeSpan.FromSeconds(120), "run", "--weights", Fixtures.ShapesModel, "--source", Fixtures.DemoClip,
            "--serve", "192.0.2.1:0", "--serve-token", "0123456789abcdef0123");
        Assert.Equal(1, foreign.ExitCode);
        Assert.Contains("error: --serve 192.0.2.1:0: cannot listen there", foreign.StdErr);
        Assert.DoesNotContain("   at ", foreign.All);

        var (playwright, browser) = await Browser.LaunchAsync();
        using var _ = playwright;
        await using var __ = browser;
        const string token = "correct-horse-battery-staple";
        using var dir = new TempDirectory();
        string clip = dir.File("long.mp4"); // long enough to look at: the demo clip 20 times over
        Ffmpeg("-stream_loop", "19", "-i", Fixtures.DemoClip, "-c", "copy", clip);
        using var run = CliProcess.Start(new Dictionary<string, string> { ["STREAM_ANALYZER_TOKEN"] = token },
            "run", "--weights", Fixtures.ShapesModel, "--img-size", "160", "--source", clip, "--serve", "0.0.0.0:0", "--duration", "120");
        int port = new Uri(run.WaitForError(@"web view: (http://\S+)", TimeSpan.FromSeconds(60)).Groups[1].Value).Port;
        string url = $"http://127.0.0.1:{port}/";
        using var http = new HttpClient { BaseAddress = new Uri(url) };

        var missing = await http.GetAsync("api/state");
        Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
        Assert.Contains("a token is required", await missing.Content.ReadAsStringAsync());
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("metrics")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync("stream/0.mjpg")).StatusCode);
        using (var wrong = new HttpRequestMessage(HttpMethod.Get, "api/state") { Headers = { { "Authorization", "Bearer not-the-token-at-all" } } })
        {
            // A wrong token is told apart from a missing one, without a word about the right one.
            var wrongAnswer = await http.SendAsync(wrong);
            Assert.Equal(HttpStatusCode.Unauthorized, wrongAnswer.StatusCode);
            string body = await wrongAnswer.Content.ReadAsStringAsync();
            Assert.Contains("wrong token: the Authorization: Bearer token given is not this server's", body);
            Assert.DoesNotContain("is required", body);
            Assert.DoesNotContain(token, body);
        }
        using (var stale = new HttpRequestMessage(HttpMethod.Get, "api/state") { Headers = { { "Cookie", "stream_analyzer_session=0123ABCD" } } })
            Assert.Contains("log in on the page again", await (await http.SendAsync(stale)).Content.ReadAsStringAsync());
        using (var right = new HttpRequestMessage(HttpMethod.Get, "api/state") { Headers = { { "Authorization", $"Bearer {token}" } } })
            Assert.Equal(HttpStatusCode.OK, (await http.SendAsync(right)).StatusCode);
        using (var badFrame = new HttpRequestMessage(HttpMethod.Get, "api/streams/long/detections/0/map.jpg?frame=abc") { Headers = { { "Authorization", $"Bearer {token}" } } })
        {
            var answer = await http.SendAsync(badFrame);
            Assert.Equal(HttpStatusCode.BadRequest, answer.StatusCode);
            // The API's JSON error, not an empty body.
            Assert.Equal("frame: 'abc' is not a frame number", JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement.GetProperty("error").GetString());
        }

        // Control changes that would change nothing, silently or vaguely, are refused naming the key.
        async Task<(HttpStatusCode Status, string Error)> PostControls(string json)
        {
            using var post = new HttpRequestMessage(HttpMethod.Post, "api/controls")
            {
                Headers = { { "Authorization", $"Bearer {token}" } },
                Content = new StringContent(json, System.Text.Encoding.UTF8, "application/json"),
            };
            var answer = await http.SendAsync(post);
            var body = JsonDocument.Parse(await answer.Content.ReadAsStringAsync()).RootElement;
            return (answer.StatusCode, body.TryGetProperty("error", out var error) ? error.GetString()! : "");
        }
        Assert.Equal((HttpStatusCode.BadRequest, "unknown control 'unknown_key'; the controls are method, layers, target, top_k, cam_every, conf, classes, heatmap, alpha"),
            await PostControls("{\"unknown_key\": 1}"));
        Assert.Equal((HttpStatusCode.BadRequest, "alpha must be a number between 0 and 1, not \"x\""), await PostControls("{\"alpha\": \"x\"}"));
        Assert.Equal((HttpStatusCode.BadRequest, "class 7 does not exist (the model has classes 0 to 2)"), await PostControls("{\"classes\": [7]}"));
        Assert.Equal(HttpStatusCode.OK, (await PostControls("{\"alpha\": 0.4}")).Status);
        // Nothing is served from disk: a path that climbs out, even with the token, finds nothing.
        foreach (var path in new[] { "/%2e%2e/%2e%2e/etc/passwd", "/..%2f..%2fetc%2fpasswd", "/wwwroot/", "/app.js/../../Program.cs" })
        {
            using var climb = new HttpRequestMessage(HttpMethod.Get, new Uri(http.BaseAddress!, path)) { Headers = { { "Authorization", $"Bearer {token}" } } };
            var answer = await http.SendAsync(climb);
            Assert.True(answer.StatusCode == HttpStatusCode.NotFound, $"{path}: {answer.StatusCode}");
        }
        Assert.False((await http.GetAsync("api/state")).Headers.Contains("Access-Control-Allow-Origin"));

        // The page asks once: a wrong token is refused, the right one opens it.
        var page = await browser.NewPageAsync();
        await page.GotoAsync(url, new() { WaitUntil = WaitUntilState.DOMContentLoaded }); // MJPEG images never finish "loading"
        await page.Locator("#login").WaitForAsync(new() { State = WaitForSelectorState.Visible, Timeout = 10000 });
        await page.FillAsync("#token", "wrong-token-wrong-token");
        await page.ClickAsync("#login button");
        await page.Locator("#login-error", new() { HasText = "refused" }).WaitForAsync(new() { Timeout = 10000 });
        Assert.Equal(0, await page.Locator("article.tile").CountAsync());
        await page.FillAsync("#token", token);
        await page.ClickAsync("#login button");
        await page.Locator("article.tile").First.WaitForAsync(new() { Timeout = 20000 });
        await page.WaitForFunctionAsync("() => document.querySelector('article.tile img.video').naturalWidth > 0", null, new() { Timeout = 30000 });
        await page.ReloadAsync(new() { WaitUntil = WaitUntilState.DOMContentLoaded }); // the session cookie keeps it open
        await page.Locator("article.tile").First.WaitForAsync(new() { Timeout = 20000 });
        Assert.False(await page.Locator("#login").IsVisibleAsync());

        Assert.Equal(130, run.Interrupt(TimeSpan.FromSeconds(60)));
    }
}
