using System.Net;
using System.Reflection;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Prometheus;
using StreamAnalyzer.Pipeline.Application;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.WebView;

/// <summary>
/// The web view of a running pipeline (Kestrel): the page, MJPEG streams of each tile, the state and control API,
/// <c>/healthz</c> and <c>/metrics</c>. It reads what the pipeline publishes and changes only the
/// <see cref="ControlBoard"/>; nothing it does can block a pipeline stage.
/// </summary>
public sealed class WebServer : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };
    private static readonly HashSet<string> PublicPaths = ["/", "/index.html", "/app.js", "/app.css", "/healthz", "/api/login"];
    private static readonly HashSet<string> LoopbackHosts = new(StringComparer.OrdinalIgnoreCase) { "localhost", "127.0.0.1", "[::1]" };
    private static readonly string[] Methods = Pipeline.Explainers.Methods.CamMethods.All.Select(e => e.Name).ToArray();
    private static readonly string[] Targets = ["logit", "prob", "conf"];

    private readonly WebApplication _app;
    private readonly StreamMetrics _metrics;

    private WebServer(WebApplication app, StreamMetrics metrics, string url)
    {
        _app = app;
        _metrics = metrics;
        Url = url;
    }

    /// <summary>The address to open in a browser.</summary>
    public string Url { get; }

    /// <summary>Starts serving <paramref name="context"/> as <paramref name="options"/> say.</summary>
    /// <exception cref="UserInputException">The address cannot be bound (in use, or not an address of this machine).</exception>
    public static async Task<WebServer> StartAsync(WebViewContext context, ServeOptions options)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = typeof(WebServer).Assembly.GetName().Name });
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k =>
        {
            k.Listen(options.Address, options.Port);
            k.AddServerHeader = false;
        });
        // Open MJPEG responses would otherwise hold the shutdown for the default 30 s.
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(2));
        var app = builder.Build();
        var gate = new AccessGate(options.Token);
        var metrics = new StreamMetrics(context.Statistics, context.Tiles);

        app.Use(async (http, next) =>
        {
            var headers = http.Response.Headers;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            headers.ContentSecurityPolicy = "default-src 'self'; img-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
            headers.CacheControl = "no-store";
            // Without a token only this machine can connect; the Host check keeps other web sites out too (DNS rebinding).
            if (!gate.Enabled && !LoopbackHosts.Contains(http.Request.Host.Host) && !IsLoopbackLiteral(http.Request.Host.Host))
            {
                http.Response.StatusCode = StatusCodes.Status421MisdirectedRequest;
                await http.Response.WriteAsJsonAsync(new { error = "this server answers to loopback host names only (use --serve-token to serve other machines)" });
                return;
            }
            if (!PublicPaths.Contains(http.Request.Path.Value ?? "") && gate.Refusal(http.Request) is { } refusal)
            {
                http.Response.StatusCode = StatusCodes.Status401Unauthorized;
                headers.WWWAuthenticate = "Bearer";
                await http.Response.WriteAsJsonAsync(new { error = refusal });
                return;
            }
            await next(http);
        });

        app.MapGet("/", () => Asset("index.html", "text/html; charset=utf-8"));
        app.MapGet("/index.html", () => Asset("index.html", "text/html; charset=utf-8"));
        app.MapGet("/app.js", () => Asset("app.js", "text/javascript; charset=utf-8"));
        app.MapGet("/app.css", () => Asset("app.css", "text/css; charset=utf-8"));
        app.MapGet("/healthz", () =>
        {
            var states = context.Tiles.Select(t => context.Statistics.For(t.Index).State).ToArray();
            // A stream that is down counts at once, not only once it gives up (by default it never does).
            bool anyDown = states.Any(s => s is Pipeline.Streaming.SourceState.Failed or Pipeline.Streaming.SourceState.Reconnecting);
            return Results.Json(new { status = anyDown ? "degraded" : "ok", streams = states.Length,
                running = states.Count(s => s == Pipeline.Streaming.SourceState.Running) }, Json);
        });
        app.MapPost("/api/login", async (HttpContext http) =>
        {
            var body = await ReadJson<LoginRequest>(http);
            if (!gate.Enabled) return Results.NoContent();
            if (!gate.Matches(body?.Token)) return Results.Json(new { error = "wrong token" }, Json, statusCode: StatusCodes.Status401Unauthorized);
            http.Response.Cookies.Append(AccessGate.CookieName, gate.SessionValue!, new CookieOptions
            {
                HttpOnly = true, SameSite = SameSiteMode.Strict, Secure = http.Request.IsHttps, Path = "/",
            });
            return Results.NoContent();
        });
        app.MapGet("/api/state", () => Results.Json(StateOf(context), Json));
        app.MapGet("/api/controls", () => Results.Json(ControlsOf(context), Json));
        app.MapPost("/api/controls", (Delegate)((HttpContext http) => ApplyControls(http, context, null)));
        app.MapPost("/api/streams/{id}/controls", (HttpContext http, string id) =>
            context.Find(id) is { } tile ? ApplyControls(http, context, tile.Index) : Task.FromResult(NoStream(id)));
        app.MapGet("/api/streams/{id}/frame.jpg", (string id) =>
            context.Find(id) is not { } tile ? NoStream(id)
            : tile.Latest.Jpeg is { } jpeg ? Results.Bytes(jpeg, "image/jpeg")
            : Results.Json(new { error = "no frame yet" }, Json, statusCode: StatusCodes.Status404NotFound));
        // ?frame= is parsed here rather than bound: a bad value gets the API's JSON error, not an empty 400.
        app.MapGet("/api/streams/{id}/detections/{n:int}/map.jpg", (string id, int n, string? frame) =>
        {
            if (context.Find(id) is not { } tile) return NoStream(id);
            long? number = null;
            if (frame is not null)
            {
                if (!long.TryParse(frame, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long parsed))
                    return Results.Json(new { error = $"frame: '{frame}' is not a frame number" }, Json, statusCode: StatusCodes.Status400BadRequest);
                number = parsed;
            }
            var maps = number is long f ? tile.MapsOf(f) : tile.LastMaps;
            var jpeg = maps is null ? null : MapImage.Render(maps, n);
            return jpeg is null
                ? Results.Json(new { error = frame is null ? $"detection {n} of the last explained frame has no map" : $"no map {n} of frame {frame} (only the last few explained frames are kept)" }, Json, statusCode: 404)
                : Results.Bytes(jpeg, "image/jpeg");
        });
        app.MapGet("/stream/{id}", (HttpContext http, string id) =>
            context.Find(id.EndsWith(".mjpg", StringComparison.OrdinalIgnoreCase) ? id[..^5] : id) is { } tile
                ? Mjpeg(http, tile, app.Lifetime.ApplicationStopping) : NoStream(id).ExecuteAsync(http));
        app.MapMetrics("/metrics", metrics.Registry);

        try
        {
            await app.StartAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException)
        {
            // In use, or not an address of this machine.
            metrics.Dispose();
            await app.DisposeAsync().ConfigureAwait(false);
            throw new UserInputException($"--serve {options.Address}:{options.Port}: cannot listen there ({e.Message})");
        }
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        int port = new Uri(bound.Replace("[::]", "localhost").Replace("0.0.0.0", "localhost")).Port;
        return new WebServer(app, metrics, options.DisplayUrl(port));
    }

    private static bool IsLoopbackLiteral(string host) => IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip);

    private static IResult NoStream(string id) => Results.Json(new { error = $"no stream '{id}'" }, Json, statusCode: StatusCodes.Status404NotFound);

    private static IResult Asset(string name, string type)
    {
        using var stream = typeof(WebServer).Assembly.GetManifestResourceStream("wwwroot/" + name)
            ?? throw new InvalidOperationException($"embedded asset {name} is missing");
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return Results.Bytes(copy.ToArray(), type);
    }

    private static async Task<T?> ReadJson<T>(HttpContext http) where T : class
    {
        try
        {
            return await http.Request.ReadFromJsonAsync<T>(Json, http.RequestAborted);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or BadHttpRequestException)
        {
            return null;
        }
    }

    private static async Task<IResult> ApplyControls(HttpContext http, WebViewContext context, int? source)
    {
        if (!(http.Request.ContentType ?? "").StartsWith("application/json", StringComparison.OrdinalIgnoreCase))
            return Results.Json(new { error = "send the changes as application/json" }, Json, statusCode: StatusCodes.Status415UnsupportedMediaType);
        // Read as a document, not straight into a ControlPatch: unknown keys and wrong types are named, not ignored.
        using var body = await ReadJson<JsonDocument>(http);
        try
        {
            // Not JSON at all reads as an undefined element, which ControlPatch refuses as it refuses any non-object.
            var applied = context.Controls.Apply(ControlPatch.Read(body?.RootElement ?? default), source);
            return Results.Json(ControlsJson(applied, context.DefaultConfidence), Json);
        }
        catch (UserInputException e)
        {
            return Results.Json(new { error = e.Message }, Json, statusCode: StatusCodes.Status400BadRequest);
        }
    }

    private static object ControlsJson(StreamControls c, float defaultConfidence) => new
    {
        method = c.Method, layers = c.Layers, target = c.Target, top_k = c.TopK, cam_every = c.CamEvery,
        conf = c.ConfThreshold ?? defaultConfidence, classes = c.Classes ?? [], heatmap = c.Heatmap, alpha = c.Alpha,
    };

    private static object ControlsOf(WebViewContext context) => new
    {
        defaults = ControlsJson(context.Controls.Defaults, context.DefaultConfidence),
        streams = context.Tiles.ToDictionary(t => t.Name, t => ControlsJson(context.Controls.For(t.Index), context.DefaultConfidence)),
    };

    private static object StateOf(WebViewContext context) => new
    {
        model = context.Model,
        classes = context.ClassNames,
        methods = Methods,
        targets = Targets,
        defaults = ControlsJson(context.Controls.Defaults, context.DefaultConfidence),
        streams = context.Tiles.Select(t =>
        {
            var counters = context.Statistics.For(t.Index);
            var snapshot = t.Snapshot;
            return new
            {
                index = t.Index, name = t.Name, source = t.Source,
                state = counters.State.ToString().ToLowerInvariant(), error = counters.LastError,
                fps = Math.Round(counters.RecentFps, 2), latency_ms = Math.Round(counters.LatencyMs, 1),
                processed = counters.Processed, dropped = counters.Dropped, reconnects = counters.Reconnects,
                frame = snapshot?.Frame, explained = snapshot?.Explained,
                inference_ms = snapshot is null ? (double?)null : Math.Round(snapshot.InferenceMs, 2),
                explain_ms = snapshot is null ? (double?)null : Math.Round(snapshot.ExplainMs, 2),
                maps = t.LastMaps is not { } last ? null : new
                {
                    frame = last.Frame, method = last.Method,
                    detections = last.Explanations.Select(e => new
                    {
                        class_name = e.Detection.ClassName, confidence = Math.Round(e.Detection.Confidence, 4),
                        layer = e.Maps.Count == 1 ? e.Maps[0].Layer : string.Join("+", e.Maps.Select(m => m.Layer)),
                    }),
                },
                detections = (snapshot?.Detections ?? []).Select(d => new
                {
                    class_id = d.ClassId, class_name = d.ClassName, confidence = Math.Round(d.Confidence, 4),
                    box = d.Box.Select(v => MathF.Round(v, 1)).ToArray(),
                    map = d.Map is null ? null : new
                    {
                        method = d.Map.Method, layer = d.Map.Layer, peak = new[] { MathF.Round(d.Map.PeakX, 1), MathF.Round(d.Map.PeakY, 1) },
                        mass_in_box = Math.Round(d.Map.MassInBox, 4),
                    },
                }),
                controls = ControlsJson(context.Controls.For(t.Index), context.DefaultConfidence),
            };
        }),
    };

    // multipart/x-mixed-replace: every browser shows it in a plain <img>, with no script or plugin. Each viewer is sent
    // the newest frame whenever it is ready for one, so a slow viewer sees fewer frames and holds nothing back.
    private static async Task Mjpeg(HttpContext http, StreamTile tile, CancellationToken stopping)
    {
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, stopping);
        http.Response.ContentType = "multipart/x-mixed-replace; boundary=frame";
        using var watching = tile.Watch();
        long seen = 0;
        var body = http.Response.Body;
        try
        {
            while (!cancel.IsCancellationRequested)
            {
                await tile.NextFrameAsync(seen, cancel.Token).ConfigureAwait(false);
                var (jpeg, sequence) = tile.Latest;
                seen = sequence;
                if (jpeg is null) continue;
                await body.WriteAsync(Encoding.ASCII.GetBytes($"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {jpeg.Length}\r\n\r\n"), cancel.Token).ConfigureAwait(false);
                await body.WriteAsync(jpeg, cancel.Token).ConfigureAwait(false);
                await body.WriteAsync("\r\n"u8.ToArray(), cancel.Token).ConfigureAwait(false);
                await body.FlushAsync(cancel.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
            // The viewer left or the run ended.
        }
        catch (IOException)
        {
            // The connection broke.
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await _app.StopAsync().ConfigureAwait(false);
        }
        finally
        {
            _metrics.Dispose();
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }

    private sealed record LoginRequest(string? Token);
}
