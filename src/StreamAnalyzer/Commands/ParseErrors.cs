using System.CommandLine;
using System.CommandLine.Parsing;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>The parse errors of a command line as the user should read them, one line each.</summary>
internal static class ParseErrors
{
    /// <summary>
    /// The messages of <paramref name="parse"/>'s errors. A value after an on/off flag that is not true or false
    /// (<c>--cam-hold maybe</c>) is left unparsed by System.CommandLine, which then calls it an unrecognised argument;
    /// it is reported as the flag's bad value instead.
    /// </summary>
    public static IReadOnlyList<string> Messages(ParseResult parse)
    {
        var badFlags = BadFlagValues(parse);
        var messages = badFlags.Select(b => $"{b.Option.Name}: '{b.Value}' is not true or false").ToList();
        foreach (var error in parse.Errors)
        {
            // The "unrecognized argument" error of a value explained above.
            if (error.SymbolResult is CommandResult && badFlags.Any(b => error.Message.Contains($"'{b.Value}'", StringComparison.Ordinal))) continue;
            messages.Add(error.Message);
        }
        return messages;
    }

    private static List<(Option Option, string Value)> BadFlagValues(ParseResult parse)
    {
        var found = new List<(Option, string)>();
        var unmatched = parse.UnmatchedTokens.ToHashSet(StringComparer.Ordinal);
        var options = parse.CommandResult.Command.Options.Where(o => o.ValueType == typeof(bool) || o.ValueType == typeof(bool?)).ToArray();
        var tokens = parse.Tokens;
        for (int i = 1; i < tokens.Count; i++)
        {
            var (flag, value) = (tokens[i - 1], tokens[i]);
            if (flag.Type != TokenType.Option || value.Type != TokenType.Argument || !unmatched.Contains(value.Value)) continue;
            if (bool.TryParse(value.Value, out _)) continue;
            if (options.FirstOrDefault(o => o.Name == flag.Value || o.Aliases.Contains(flag.Value)) is { } option) found.Add((option, value.Value));
        }
        return found;
    }
}
