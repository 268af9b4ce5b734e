using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using System.Numerics;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>
/// Parsers for the numeric options whose errors name the flag and say what was expected (<c>--img-size: 'abc' is not a
/// whole number</c>) instead of System.CommandLine's message with a .NET type name. Installed once on the whole command
/// tree, so every numeric option, on the command line and in config files (checked by the same options), says the same.
/// </summary>
internal static class ValueParsers
{
    /// <summary>Gives the numeric options of <paramref name="command"/> and its subcommands these parsers; an option with its own parser keeps it.</summary>
    public static void Install(Command command)
    {
        foreach (var option in command.Options) Install(option);
        foreach (var sub in command.Subcommands) Install(sub);
    }

    private static void Install(Option option)
    {
        switch (option)
        {
            case Option<int> o: o.CustomParser ??= r => One<int>(r, o.Name) ?? 0; break;
            case Option<int?> o: o.CustomParser ??= r => One<int>(r, o.Name); break;
            case Option<long> o: o.CustomParser ??= r => One<long>(r, o.Name) ?? 0; break;
            case Option<long?> o: o.CustomParser ??= r => One<long>(r, o.Name); break;
            case Option<double> o: o.CustomParser ??= r => One<double>(r, o.Name) ?? 0; break;
            case Option<double?> o: o.CustomParser ??= r => One<double>(r, o.Name); break;
            case Option<float> o: o.CustomParser ??= r => One<float>(r, o.Name) ?? 0; break;
            case Option<float?> o: o.CustomParser ??= r => One<float>(r, o.Name); break;
            case Option<int[]> o: o.CustomParser ??= r => Many<int>(r, o.Name); break;
            case Option<double[]> o: o.CustomParser ??= r => Many<double>(r, o.Name); break;
        }
    }

    // The first token as a T, or null with the error added (so no range check sees a made-up value).
    private static T? One<T>(ArgumentResult result, string name) where T : struct, INumber<T>
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (TryParse(text, out T value)) return value;
        result.AddError($"{name}: {Problem<T>(text)}");
        return null;
    }

    private static T[]? Many<T>(ArgumentResult result, string name) where T : struct, INumber<T>
    {
        var values = new T[result.Tokens.Count];
        for (int i = 0; i < values.Length; i++)
        {
            string text = result.Tokens[i].Value;
            if (TryParse(text, out values[i])) continue;
            result.AddError($"{name}: {Problem<T>(text)}");
            return null;
        }
        return values;
    }

    private static bool IsWhole<T>() => typeof(T) == typeof(int) || typeof(T) == typeof(long);

    // Invariant culture, no thousands separators: "0,5" must not become 5. Infinity and NaN are not useful settings.
    private static bool TryParse<T>(string text, out T value) where T : struct, INumber<T> =>
        T.TryParse(text.Trim(), IsWhole<T>() ? NumberStyles.Integer : NumberStyles.Float, CultureInfo.InvariantCulture, out value)
        && T.IsFinite(value);

    private static string Problem<T>(string text)
    {
        bool number = double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d);
        if (!IsWhole<T>()) return $"'{text}' is not a number";
        if (number && Math.Floor(d) == d) return $"'{text}' is too {(d > 0 ? "large" : "small")} a number";
        return $"'{text}' is not a whole number";
    }
}
