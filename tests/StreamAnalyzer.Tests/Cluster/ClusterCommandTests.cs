using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using StreamAnalyzer.Pipeline.Tests.Support;
using static StreamAnalyzer.Cli.Tests.Media;

namespace StreamAnalyzer.Cli.Tests.Cluster;

/// <summary>The cluster commands against a real nats-server: credentials and TLS passed through, clear errors, a NATS outage.</summary>
[Collection(LiveStreams.Collection)]
public class ClusterCommandTests
{
    private static CliProcess.Result Cli(params string[] args) => CliProcess.Run(TimeSpan.FromMinutes(1), args);

    [SkippableFact]
    public void CredentialsAndTlsArePassedThroughAndRefusalsAreClear()
    {
        Need("nats-server");
        // Nothing listening: one line naming the URL, non-zero exit, no stack trace.
        var nobody = Cli("cameras", "list", "--nats", "nats://127.0.0.1:1");
        Assert.Equal(1, nobody.ExitCode);
        Assert.Contains("cannot connect to NATS at nats://127.0.0.1:1", nobody.StdErr);
        Assert.DoesNotContain("   at ", nobody.All);

        using (var nats = new NatsCluster(1, "authorization {\n  user: sa\n  password: s3cret\n}"))
        {
            var refused = Cli("cameras", "add", "gate", "--source", "rtsp://10.0.0.1/gate", "--weights", Fixtures.ShapesModel, "--nats", nats.Url);
            Assert.Equal(1, refused.ExitCode);
            Assert.Contains("cannot connect to NATS", refused.StdErr);
            Assert.Contains("uthorization", refused.StdErr);
            Assert.DoesNotContain("   at ", refused.All);

            var added = Cli("cameras", "add", "gate", "--source", "rtsp://10.0.0.1/gate", "--weights", Fixtures.ShapesModel, "--cam-every", "5",
                "--nats", nats.Url, "--nats-user", "sa", "--nats-password", "s3cret");
            Assert.True(added.ExitCode == 0, added.All);
            var again = Cli("cameras", "add", "gate", "--source", "x", "--weights", Fixtures.ShapesModel, "--nats", nats.Url, "--nats-user", "sa", "--nats-password", "s3cret");
            Assert.Equal(1, again.ExitCode);
            Assert.Contains("camera 'gate' exists already", again.StdErr);
            var badName = Cli("cameras", "add", "front door", "--source", "x", "--weights", Fixtures.ShapesModel, "--nats", nats.Url);
            Assert.Equal(1, badName.ExitCode);
            Assert.Contains("use 1-64 letters, digits", badName.StdErr);

            // Credentials in the URL work too; the listing shows the camera waiting for a worker.
            string inUrl = nats.Url.Replace("nats://", "nats://sa:s3cret@");
            var list = Cli("cameras", "list", "--nats", inUrl);
            Assert.True(list.ExitCode == 0, list.All);
            Assert.Contains("gate", list.StdOut);
            Assert.Contains("rtsp://10.0.0.1/gate", list.StdOut);
            Assert.Contains("waiting for a worker", list.StdOut);
            var status = Cli("cluster", "status", "--nats", inUrl);
            Assert.True(status.ExitCode == 0, status.All);
            Assert.Contains("0 worker(s), 1 camera(s), 0 held", status.StdOut);
            Assert.Contains("waiting for a worker: gate", status.StdOut);
            var removed = Cli("cameras", "remove", "gate", "nosuch", "--nats", inUrl);
            Assert.Equal(1, removed.ExitCode);
            Assert.Contains("camera gate: removed", removed.StdOut);
            Assert.Contains("no camera named 'nosuch'", removed.StdErr);
            Assert.Contains("no cameras", Cli("cameras", "list", "--nats", inUrl).StdOut);
        }

        using (var nats = new NatsCluster(1, "authorization {\n  token: t0ken\n}"))
        {
            Assert.Equal(1, Cli("cameras", "list", "--nats", nats.Url, "--nats-token", "wrong").ExitCode);
            var ok = Cli("cameras", "list", "--nats", nats.Url, "--nats-token", "t0ken");
            Assert.True(ok.ExitCode == 0, ok.All);
        }

        using var tlsFolder = new TempDirectory();
        var (ca, cert, key) = WriteCertificates(tlsFolder.Path);
        using (var nats = new NatsCluster(1, $"tls {{\n  cert_file: \"{cert}\"\n  key_file: \"{key}\"\n}}"))
        {
            string url = nats.Url.Replace("nats://", "tls://");
            var untrusted = Cli("cameras", "list", "--nats", url);
            Assert.Equal(1, untrusted.ExitCode);
            Assert.Contains("cannot connect to NATS", untrusted.StdErr);
            Assert.DoesNotContain("   at ", untrusted.All);
            var trusted = Cli("cameras", "list", "--nats", url, "--nats-ca", ca);
            Assert.True(trusted.ExitCode == 0, trusted.All);
            Assert.Contains("no cameras", trusted.StdOut);
            var missing = Cli("cameras", "list", "--nats", url, "--nats-ca", Path.Combine(tlsFolder.Path, "nope.pem"));
            Assert.Equal(1, missing.ExitCode);
            Assert.Contains("nope.pem: no such file", missing.StdErr);
        }
    }

    /// <summary>
    /// A worker's name is refused while a worker of that name runs, and taken over on the same machine once that worker
    /// has ended without signing off (killed) and its report has gone unwritten for a few ticks, instead of waiting for
    /// the report to expire.
    /// </summary>
    [SkippableFact]
    public void AWorkerNameIsRefusedWhileInUseAndTakenOverFromAKilledWorkerOnThisMachine()
    {
        Need("nats-server");
        using var nats = new NatsCluster(1);
        using var output = new TempDirectory();
        string[] Worker() => ["worker", "--nats", nats.Url, "--name", "w", "--lease-time", "60", "--output", output.Path];
        using var first = CliProcess.Start(null, Worker());
        first.WaitForError("worker w: joined", TimeSpan.FromSeconds(60));

        var second = CliProcess.Run(TimeSpan.FromMinutes(1), Worker());
        Assert.Equal(1, second.ExitCode);
        Assert.Contains($"error: worker name 'w' is in use by {Environment.MachineName} (pid ", second.StdErr);

        first.Kill();
        Thread.Sleep(TimeSpan.FromSeconds(4)); // its report unwritten for more than three ticks (a live worker rewrites it every tick)
        using var third = CliProcess.Start(null, Worker());
        third.WaitForError("worker w: its last run on this machine \\(pid \\d+\\) has ended without signing off; taking over its name", TimeSpan.FromSeconds(60));
        third.WaitForError("worker w: joined", TimeSpan.FromSeconds(60));
        Assert.Equal(0, third.Terminate(TimeSpan.FromSeconds(60)));
        Assert.DoesNotContain("   at ", third.StdErr);
    }

    [SkippableFact]
    public void AWorkerRidesOutANatsOutageAndResultsFollowInOrder()
    {
        Need("nats-server", "rtsp-server-perl", "ffmpeg", "ffprobe");
        using var nats = new NatsCluster(1);
        using var camera = new RtspCamera();
        using var output = new TempDirectory();
        WorkerPoolTests.AddCamera(nats.Url, "door", camera.Url);
        using var worker = WorkerPoolTests.StartWorker(nats.Url, "solo", output.Path);
        using var follow = CliProcess.Start(null, "results", "--follow", "--camera", "door", "--nats", nats.Url);
        var probe = new ClusterProbe(nats.Url, TimeSpan.FromSeconds(WorkerPoolTests.LeaseSeconds));
        try
        {
            WorkerPoolTests.WaitForNewRecords(probe, [], ["door"], "at the start", () => worker.StdErr);
        }
        finally
        {
            probe.DisposeAsync().AsTask().Wait();
        }

        // NATS gone for a while: the camera goes on locally, and its records wait for the server to come back.
        nats.Kill(0);
        worker.WaitForError("NATS out of reach|cannot publish results", TimeSpan.FromSeconds(30));
        string localFile = Directory.EnumerateFiles(output.Path, "*.jsonl", SearchOption.AllDirectories).Single();
        int localBefore = File.ReadAllLines(localFile).Length;
        Thread.Sleep(5000);
        Assert.True(File.ReadAllLines(localFile).Length > localBefore + 5, "the local JSON lines stopped while NATS was away");
        nats.Start(0);
        nats.WaitUntilReady();
        worker.WaitForError("publishing results again|NATS reachable again", TimeSpan.FromSeconds(60));
        var reprobe = new ClusterProbe(nats.Url, TimeSpan.FromSeconds(WorkerPoolTests.LeaseSeconds));
        try
        {
            var counts = reprobe.Counts();
            WorkerPoolTests.WaitForNewRecords(reprobe, counts, ["door"], "after NATS came back", () => worker.StdErr);
        }
        finally
        {
            reprobe.DisposeAsync().AsTask().Wait();
        }
        Assert.Equal(0, worker.Terminate(TimeSpan.FromSeconds(60)));
        Console.WriteLine(worker.StdErr);

        // Every frame analysed (the outage included) is in the stream once, in order.
        var stored = ClusterResults.Read(nats.Url, "door");
        ClusterResults.AssertOrderedWithoutDuplicates(stored);
        var frames = stored.Select(i => i.Frame).ToHashSet();
        var local = File.ReadLines(localFile).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("frame").GetInt64()).ToList();
        Assert.All(local, f => Assert.Contains(f, frames));
        Assert.Equal(local.Count, stored.Count);

        // `results --follow` printed every one of them as they came, in order, and ends on Ctrl+C.
        int Followed() => follow.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length;
        var until = DateTime.UtcNow.AddSeconds(30);
        while (Followed() < stored.Count && DateTime.UtcNow < until) Thread.Sleep(100);
        Assert.Equal(0, follow.Interrupt(TimeSpan.FromSeconds(20)));
        var followed = follow.StdOut.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(ClusterResults.Parse).ToList();
        Assert.True(followed.Count == stored.Count, $"--follow printed {followed.Count} of {stored.Count} records\n{follow.StdErr}");
        ClusterResults.AssertOrderedWithoutDuplicates(followed);
        Assert.Equal(stored.Select(i => i.Frame), followed.Select(i => i.Frame));
    }

    /// <summary>A CA and a server certificate for 127.0.0.1 signed by it, as PEM files.</summary>
    private static (string Ca, string Cert, string Key) WriteCertificates(string folder)
    {
        using var caKey = RSA.Create(2048);
        var caRequest = new CertificateRequest("CN=stream-analyzer test CA", caKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        using var ca = caRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-2), DateTimeOffset.UtcNow.AddDays(2));
        using var serverKey = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", serverKey, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var san = new SubjectAlternativeNameBuilder();
        san.AddIpAddress(System.Net.IPAddress.Loopback);
        san.AddDnsName("localhost");
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        using var server = request.Create(ca, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1), [1, 2, 3, 4]);
        string caPath = Path.Combine(folder, "ca.pem"), certPath = Path.Combine(folder, "server.pem"), keyPath = Path.Combine(folder, "server-key.pem");
        File.WriteAllText(caPath, ca.ExportCertificatePem());
        File.WriteAllText(certPath, server.ExportCertificatePem());
        File.WriteAllText(keyPath, serverKey.ExportPkcs8PrivateKeyPem());
        return (caPath, certPath, keyPath);
    }
}
