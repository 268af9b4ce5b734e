using System.Diagnostics;
using System.Net.Sockets;
using System.Text.Json;
using static StreamAnalyzer.Cli.Tests.ChildProcesses;

namespace StreamAnalyzer.Cli.Tests.Cluster;

/// <summary>
/// Real <c>nats-server</c> processes with JetStream on loopback: one node, or a cluster of three whose nodes can be
/// stopped and started again. Each node keeps its store in a folder of its own, removed at the end.
/// </summary>
public sealed class NatsCluster : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("sa-nats-").FullName;
    private Node[] _nodes;

    private sealed record Node(string Name, int ClientPort, int ClusterPort, int MonitorPort, string Config)
    {
        public Process? Process { get; set; }
    }

    /// <param name="size">1, or 3 for a cluster.</param>
    /// <param name="extraConfig">Added to every node's configuration (authorization, TLS).</param>
    public NatsCluster(int size, string extraConfig = "")
    {
        Media.Need("nats-server");
        // Bootstrapping is set-up, not what the tests check: a cluster that does not elect its meta leader in time (seen
        // once in CI, under load) is started again from nothing, on new ports, once.
        string firstFailure = "";
        for (int attempt = 1; ; attempt++)
        {
            _nodes = [];
            try
            {
                _nodes = Configure(size, extraConfig, attempt);
                for (int i = 0; i < _nodes.Length; i++) Start(i);
                WaitUntilReady(TimeSpan.FromSeconds(attempt == 1 ? 45 : 60));
                return;
            }
            catch (Exception e)
            {
                for (int i = 0; i < _nodes.Length; i++) Kill(i);
                if (attempt > 1 || e is not InvalidOperationException)
                {
                    Dispose();
                    if (firstFailure.Length == 0) throw;
                    throw new InvalidOperationException($"{e.Message}\n(the first start had failed too: {firstFailure})", e);
                }
                firstFailure = e.Message;
            }
        }
    }

    private Node[] Configure(int size, string extraConfig, int attempt)
    {
        int[] ports = FreePorts(3 * size);
        var nodes = Enumerable.Range(0, size).Select(i => new Node($"n{i + 1}", ports[3 * i], ports[3 * i + 1], ports[3 * i + 2],
            Path.Combine(_folder, $"n{i + 1}-{attempt}.conf"))).ToArray();
        string routes = string.Join(", ", nodes.Select(n => $"\"nats-route://127.0.0.1:{n.ClusterPort}\""));
        foreach (var node in nodes)
        {
            string cluster = size > 1 ? $"cluster {{\n  name: sa-test\n  listen: 127.0.0.1:{node.ClusterPort}\n  routes: [{routes}]\n}}\n" : "";
            File.WriteAllText(node.Config, $"server_name: {node.Name}\nlisten: 127.0.0.1:{node.ClientPort}\nhttp: 127.0.0.1:{node.MonitorPort}\n" +
                $"jetstream {{\n  store_dir: \"{Path.Combine(_folder, $"{node.Name}-{attempt}")}\"\n}}\n{cluster}{extraConfig}\n");
        }
        return nodes;
    }

    /// <summary>Every node's client URL, comma-separated (what a client is given).</summary>
    public string Url => string.Join(",", _nodes.Select(n => $"nats://127.0.0.1:{n.ClientPort}"));

    /// <summary>One node's client URL.</summary>
    public string NodeUrl(int i) => $"nats://127.0.0.1:{_nodes[i].ClientPort}";

    /// <summary>The folder of the test's files.</summary>
    public string Folder => _folder;

    public void Start(int i)
    {
        var node = _nodes[i];
        node.Process = ChildProcesses.Start("nats-server", "-c", node.Config);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!Accepts(node.ClientPort))
        {
            if (node.Process.HasExited || DateTime.UtcNow > deadline)
                throw new InvalidOperationException($"nats-server {node.Name} did not start:\n{string.Join("\n", Output.TakeLast(30))}");
            Thread.Sleep(100);
        }
    }

    /// <summary>The index of the node named <paramref name="name"/> (n1, n2, ...).</summary>
    public int IndexOf(string name) => Array.FindIndex(_nodes, n => n.Name == name) is var i and >= 0 ? i : throw new ArgumentException($"no node {name}");

    /// <summary>Stops a node as a crash does (SIGKILL).</summary>
    public void Kill(int i)
    {
        if (_nodes[i].Process is { } p) Stop(p);
        _nodes[i].Process = null;
    }

    /// <summary>Waits until JetStream answers on every running node (a cluster has elected its meta leader).</summary>
    public void WaitUntilReady() => WaitUntilReady(TimeSpan.FromSeconds(60));

    private void WaitUntilReady(TimeSpan limit)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        var deadline = DateTime.UtcNow + limit;
        foreach (var node in _nodes.Where(n => n.Process is not null))
        {
            while (true)
            {
                try
                {
                    using var jsz = JsonDocument.Parse(http.GetStringAsync($"http://127.0.0.1:{node.MonitorPort}/jsz").Result);
                    bool ready = _nodes.Length == 1 || (jsz.RootElement.TryGetProperty("meta_cluster", out var meta)
                        && meta.TryGetProperty("leader", out var leader) && leader.GetString() is { Length: > 0 });
                    if (ready) break;
                }
                catch (Exception e) when (e is AggregateException or HttpRequestException or JsonException)
                {
                }
                if (DateTime.UtcNow > deadline) throw new InvalidOperationException($"JetStream on {node.Name} not ready in {limit.TotalSeconds:0} s:\n{string.Join("\n", Output.TakeLast(30))}");
                Thread.Sleep(250);
            }
        }
    }

    // Distinct free ports: every listener is held until all are chosen, so no port is handed out twice.
    private static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(System.Net.IPAddress.Loopback, 0)).ToArray();
        try
        {
            foreach (var l in listeners) l.Start();
            return listeners.Select(l => ((System.Net.IPEndPoint)l.LocalEndpoint).Port).ToArray();
        }
        finally
        {
            foreach (var l in listeners) l.Stop();
        }
    }

    public void Dispose()
    {
        for (int i = 0; i < _nodes.Length; i++) Kill(i);
        try { Directory.Delete(_folder, recursive: true); } catch (IOException) { }
    }
}
