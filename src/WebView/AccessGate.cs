using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace StreamAnalyzer.WebView;

/// <summary>
/// Checks the access token: from an <c>Authorization: Bearer</c> header (scripts, Prometheus) or from the cookie the page
/// gets by posting the token once to <c>/api/login</c>. The cookie holds a hash of the token, HttpOnly and SameSite=Strict
/// (other sites cannot send it); comparisons take the same time whatever matches.
/// </summary>
public sealed class AccessGate(string? token)
{
    /// <summary>The cookie's name.</summary>
    public const string CookieName = "stream_analyzer_session";

    private readonly byte[]? _expected = token is null ? null : SHA256.HashData(Encoding.UTF8.GetBytes(token));

    /// <summary>True when a token is required.</summary>
    public bool Enabled => _expected is not null;

    /// <summary>The cookie value a successful login sets.</summary>
    public string? SessionValue => _expected is null ? null : Convert.ToHexString(SHA256.HashData(_expected));

    /// <summary>True when <paramref name="candidate"/> is the token.</summary>
    public bool Matches(string? candidate) =>
        _expected is null || (candidate is not null && CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(candidate)), _expected));

    /// <summary>True when the request carries the token or a session cookie.</summary>
    public bool Allows(HttpRequest request)
    {
        if (_expected is null) return true;
        string header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) && Matches(header["Bearer ".Length..].Trim())) return true;
        if (request.Cookies.TryGetValue(CookieName, out var cookie) && cookie is not null)
            return CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(cookie), Encoding.ASCII.GetBytes(SessionValue!));
        return false;
    }
}
