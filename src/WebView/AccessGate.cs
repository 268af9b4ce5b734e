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
    public bool Allows(HttpRequest request) => Refusal(request) is null;

    /// <summary>
    /// Null when the request carries the token or a session cookie; otherwise why not, for the 401 answer: no token at
    /// all, a wrong one, or a cookie of an earlier login (saying nothing about the right token).
    /// </summary>
    public string? Refusal(HttpRequest request)
    {
        if (_expected is null) return null;
        string? bearer = BearerToken(request);
        if (bearer is not null && Matches(bearer)) return null;
        bool hasCookie = request.Cookies.TryGetValue(CookieName, out var cookie) && cookie is not null;
        if (hasCookie && CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(cookie!), Encoding.ASCII.GetBytes(SessionValue!))) return null;
        if (bearer is not null) return "wrong token: the Authorization: Bearer token given is not this server's";
        if (hasCookie) return "the login is no longer valid (the server's token has changed): log in on the page again";
        return "a token is required: Authorization: Bearer <token>, or log in on the page";
    }

    // The token of an "Authorization: Bearer <token>" header; null when there is none (or it is empty).
    private static string? BearerToken(HttpRequest request)
    {
        string header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase)) return null;
        string token = header["Bearer ".Length..].Trim();
        return token.Length > 0 ? token : null;
    }
}
