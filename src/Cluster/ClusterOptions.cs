using NATS.Client.Core;

namespace StreamAnalyzer.Cluster;

/// <summary>
/// How to reach the NATS cluster: its URLs (comma-separated; <c>tls://</c> for TLS; credentials may sit in the URL as
/// <c>nats://user:password@host</c>) and the credentials and TLS files passed through to the client.
/// </summary>
/// <param name="Url">One or more server URLs, comma-separated.</param>
public sealed record ClusterOptions(string Url)
{
    /// <summary>User name (with <see cref="Password"/>).</summary>
    public string? User { get; init; }

    /// <summary>Password (with <see cref="User"/>).</summary>
    public string? Password { get; init; }

    /// <summary>Authentication token.</summary>
    public string? Token { get; init; }

    /// <summary>A NATS credentials file (JWT and NKey seed).</summary>
    public string? CredentialsFile { get; init; }

    /// <summary>CA certificate (PEM) the server's certificate is checked against.</summary>
    public string? CaFile { get; init; }

    /// <summary>Client certificate (PEM), for servers that verify clients.</summary>
    public string? CertFile { get; init; }

    /// <summary>The client certificate's key (PEM).</summary>
    public string? KeyFile { get; init; }

    /// <summary>The name this client shows in the server's monitoring.</summary>
    public string Name { get; init; } = "stream-analyzer";

    /// <summary>Copies of each bucket and of the results stream (0: as many as the cluster has servers, at most 3).</summary>
    public int Replicas { get; init; }

    /// <summary>How long the results stream keeps a record, when this client creates it (zero: for ever).</summary>
    public TimeSpan ResultsRetention { get; init; } = TimeSpan.FromDays(7);

    /// <summary>How long a connection attempt may take before the command gives up.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The client's settings.</summary>
    public NatsOpts ToNatsOpts()
    {
        foreach (var (file, what) in new[] { (CredentialsFile, "credentials file"), (CaFile, "CA file"), (CertFile, "certificate"), (KeyFile, "key file") })
            if (file is not null && !File.Exists(file)) throw new Pipeline.Runtime.UserInputException($"NATS {what} {file}: no such file");
        bool tls = Url.Split(',').Any(u => u.Trim().StartsWith("tls://", StringComparison.OrdinalIgnoreCase)) || CaFile is not null || CertFile is not null;
        return NatsOpts.Default with
        {
            Url = Url,
            Name = Name,
            ConnectTimeout = ConnectTimeout,
            // A worker rides out a NATS outage: it reconnects for as long as it runs, its local outputs going on.
            MaxReconnectRetry = -1,
            ReconnectWaitMin = TimeSpan.FromMilliseconds(500),
            ReconnectWaitMax = TimeSpan.FromSeconds(5),
            AuthOpts = NatsAuthOpts.Default with { Username = User, Password = Password, Token = Token, CredsFile = CredentialsFile },
            TlsOpts = tls ? new NatsTlsOpts { Mode = TlsMode.Require, CaFile = CaFile, CertFile = CertFile, KeyFile = KeyFile } : NatsTlsOpts.Default,
        };
    }
}
