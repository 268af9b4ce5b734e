using System.Net;
using System.Net.Sockets;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.WebView;

/// <summary>Where the web view listens and who may use it.</summary>
/// <param name="Address">The interface to bind.</param>
/// <param name="Port">The port (0: any free one; the bound address is reported).</param>
/// <param name="Token">The access token; required unless <paramref name="Address"/> is a loopback address.</param>
public sealed record ServeOptions(IPAddress Address, int Port, string? Token)
{
    /// <summary>The environment variable that can hold the token instead of the command line.</summary>
    public const string TokenVariable = "STREAM_ANALYZER_TOKEN";

    /// <summary>The default: loopback only, port 8080.</summary>
    public const string DefaultAddress = "127.0.0.1:8080";

    /// <summary>True when only this machine can connect.</summary>
    public bool IsLoopback => IPAddress.IsLoopback(Address);

    /// <summary>
    /// Parses <c>ADDR:PORT</c>, <c>:PORT</c> (loopback), <c>PORT</c>, <c>localhost:PORT</c> or <c>[v6]:PORT</c>, and checks
    /// that a non-loopback address comes with a token of at least 16 characters.
    /// </summary>
    /// <exception cref="UserInputException">The address cannot be parsed, or the token is missing or too short.</exception>
    public static ServeOptions Parse(string? text, string? token)
    {
        text = string.IsNullOrWhiteSpace(text) ? DefaultAddress : text.Trim();
        string host, port;
        int colon = text.LastIndexOf(':');
        if (colon < 0)
        {
            (host, port) = ("127.0.0.1", text);
        }
        else
        {
            (host, port) = (text[..colon], text[(colon + 1)..]);
            if (host.Length == 0) host = "127.0.0.1";
        }
        if (!int.TryParse(port, out int p) || p is < 0 or > 65535)
            throw new UserInputException($"--serve {text}: '{port}' is not a port number (expected ADDR:PORT, e.g. {DefaultAddress})");
        host = host.Trim('[', ']');
        IPAddress address = host.Equals("localhost", StringComparison.OrdinalIgnoreCase) ? IPAddress.Loopback
            : IPAddress.TryParse(host, out var parsed) ? parsed
            : throw new UserInputException($"--serve {text}: '{host}' is not an IP address (use 127.0.0.1, 0.0.0.0, a local interface's address, or localhost)");
        token = string.IsNullOrEmpty(token) ? null : token;
        var options = new ServeOptions(address, p, token);
        if (!options.IsLoopback && token is null)
            throw new UserInputException($"--serve {text}: other machines could connect, so a token is required (--serve-token, or the {TokenVariable} environment variable)");
        if (token is { Length: < 16 })
            throw new UserInputException("--serve-token: use at least 16 characters (e.g. `openssl rand -hex 16`)");
        return options;
    }

    /// <summary>The URL a browser on this machine (or, for a wildcard bind, elsewhere) opens.</summary>
    public string DisplayUrl(int boundPort)
    {
        string host = Address.Equals(IPAddress.Any) || Address.Equals(IPAddress.IPv6Any) ? Dns.GetHostName()
            : Address.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{Address}]" : Address.ToString();
        return $"http://{host}:{boundPort}/";
    }
}
