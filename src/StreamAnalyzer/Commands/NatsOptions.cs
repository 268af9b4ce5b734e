using System.CommandLine;
using StreamAnalyzer.Cluster;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>The flags every cluster command takes: where NATS is and how to log in (passed through to the client).</summary>
internal sealed class NatsOptions
{
    private readonly Option<string?> _url = new("--nats")
    {
        Description = "NATS server URL(s), comma-separated (nats://host:4222, tls://host:4222, nats://user:password@host:4222; default: $NATS_URL)",
    };
    private readonly Option<string?> _user = new("--nats-user") { Description = "NATS user name" };
    private readonly Option<string?> _password = new("--nats-password") { Description = "NATS password (or $NATS_PASSWORD)" };
    private readonly Option<string?> _token = new("--nats-token") { Description = "NATS token (or $NATS_TOKEN)" };
    private readonly Option<string?> _creds = new("--nats-creds") { Description = "NATS credentials file (JWT and seed)" };
    private readonly Option<string?> _ca = new("--nats-ca") { Description = "CA certificate (PEM) to check the server's TLS certificate against" };
    private readonly Option<string?> _cert = new("--nats-cert") { Description = "client certificate (PEM) for servers that verify clients" };
    private readonly Option<string?> _key = new("--nats-key") { Description = "the client certificate's key (PEM)" };
    private readonly Option<int> _replicas = new Option<int>("--replicas")
    {
        Description = "copies of the buckets and the results stream when this command creates them (0: one per server, at most 3)", DefaultValueFactory = _ => 0,
    }.InRange(0, 5);
    private readonly Option<double> _retention = new Option<double>("--results-retention")
    {
        Description = "hours the results stream keeps each record, set when this command creates it (0: for ever)", DefaultValueFactory = _ => 168,
    }.AtLeast(0);
    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { _url, _user, _password, _token, _creds, _ca, _cert, _key, _replicas, _retention }) command.Options.Add(option);
    }

    public ClusterOptions Read(ParseResult p, string clientName)
    {
        string url = p.GetValue(_url) ?? Environment.GetEnvironmentVariable("NATS_URL")
            ?? throw new UserInputException("no NATS server: give --nats URL (or set NATS_URL)");
        return new ClusterOptions(url)
        {
            User = p.GetValue(_user), Password = p.GetValue(_password) ?? Environment.GetEnvironmentVariable("NATS_PASSWORD"),
            Token = p.GetValue(_token) ?? Environment.GetEnvironmentVariable("NATS_TOKEN"), CredentialsFile = p.GetValue(_creds),
            CaFile = p.GetValue(_ca), CertFile = p.GetValue(_cert), KeyFile = p.GetValue(_key), Replicas = p.GetValue(_replicas), Name = clientName,
            ResultsRetention = TimeSpan.FromHours(p.GetValue(_retention)),
        };
    }
}
