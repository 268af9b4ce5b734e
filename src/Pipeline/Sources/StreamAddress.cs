using System.Text.RegularExpressions;

namespace StreamAnalyzer.Pipeline.Sources;

/// <summary>
/// Stream addresses as they may be shown: a camera's password (<c>rtsp://user:password@host/...</c>) is replaced by
/// <c>***</c> wherever an address is logged, served by the web view, or written into results.
/// </summary>
public static partial class StreamAddress
{
    /// <summary><paramref name="text"/> with the password of every URL in it replaced by <c>***</c> (the user name kept).</summary>
    public static string Redacted(string text) => Credentials().Replace(text, "$1$2:***@");

    // scheme://user:password@ - the password runs to the authority's last '@', as ffmpeg reads it (so a literal '@' in
    // it, which ffmpeg accepts unescaped, is hidden too).
    [GeneratedRegex(@"([A-Za-z][A-Za-z0-9+.\-]*://)([^/?#@:\s]*):([^/?#\s]*)@")]
    private static partial Regex Credentials();
}
