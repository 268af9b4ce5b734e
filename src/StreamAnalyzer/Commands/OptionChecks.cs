using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>
/// Range and name checks attached to options, so that a bad value is a parse error naming the flag (or config key)
/// and its accepted range, before anything is loaded.
/// </summary>
internal static class OptionChecks
{
    /// <summary>Values from <paramref name="min"/> to <paramref name="max"/> (inclusive).</summary>
    public static Option<T> InRange<T>(this Option<T> option, double min, double max)
    {
        option.Validators.Add(result =>
        {
            if (TryValue<T>(result, out var v) && v is not null && Convert.ToDouble(v, CultureInfo.InvariantCulture) is var d && (d < min || d > max || double.IsNaN(d)))
                result.AddError($"{option.Name} must be {Describe(min, max)}, got {Convert.ToString(v, CultureInfo.InvariantCulture)}");
        });
        return option;
    }

    /// <summary>Values of at least <paramref name="min"/>.</summary>
    public static Option<T> AtLeast<T>(this Option<T> option, double min) => option.InRange(min, double.PositiveInfinity);

    /// <summary>Values that <paramref name="parse"/> accepts (it throws <see cref="UserInputException"/> otherwise).</summary>
    public static Option<string> Parses(this Option<string> option, Action<string> parse)
    {
        option.Validators.Add(result =>
        {
            if (!TryValue<string>(result, out var v) || v is null) return;
            try
            {
                parse(v);
            }
            catch (UserInputException e)
            {
                result.AddError($"{option.Name} '{v}': {e.Message}");
            }
        });
        return option;
    }

    /// <summary>
    /// One of <paramref name="values"/>, in any case (the value is the listed spelling). Help shows them as
    /// <c>&lt;a|b&gt;</c>; anything else is "--flag: 'x' is not one of a, b" (System.CommandLine's own message spans lines).
    /// </summary>
    public static Option<string> OneOf(this Option<string> option, params string[] values)
    {
        option.CustomParser = result => Choose(result, option.Name, values, v => v);
        option.CompletionSources.Clear();
        option.CompletionSources.Add(values);
        // In the order given (e.g. x264's presets fastest first): help would otherwise sort the completions.
        option.HelpName ??= string.Join("|", values);
        return option;
    }

    /// <summary>
    /// The members of <typeparamref name="T"/> by their names in lower case (any case accepted), as the README writes
    /// them, in help and in errors; never a .NET type name. The default is the member 0 (kept out of the help's
    /// "[default: ...]", which would show its capitalised name).
    /// </summary>
    public static Option<T> OneOf<T>(this Option<T> option) where T : struct, Enum
    {
        var members = Enum.GetValues<T>().ToDictionary(v => v.ToString().ToLowerInvariant());
        string[] names = [.. members.Keys.Order(StringComparer.Ordinal)];
        option.CustomParser = result => Choose(result, option.Name, names, n => members[n]);
        option.CompletionSources.Clear();
        option.CompletionSources.Add(names);
        return option;
    }

    private static TValue? Choose<TValue>(ArgumentResult result, string name, string[] names, Func<string, TValue> value)
    {
        string text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
        if (names.FirstOrDefault(n => n.Equals(text.Trim(), StringComparison.OrdinalIgnoreCase)) is { } match) return value(match);
        result.AddError($"{name}: '{text}' is not one of {string.Join(", ", names)}");
        return default;
    }

    /// <summary>Every value of a list option at least <paramref name="min"/>.</summary>
    public static Option<int[]> EachAtLeast(this Option<int[]> option, int min)
    {
        option.Validators.Add(result =>
        {
            if (TryValue<int[]>(result, out var values) && values is not null && values.FirstOrDefault(v => v < min) is var bad && values.Any(v => v < min))
                result.AddError($"{option.Name} values must be at least {min}, got {bad}");
        });
        return option;
    }

    // False when the value did not parse: the parser reports that itself, and a range check on the stand-in default
    // (0 for "abc") would contradict it.
    private static bool TryValue<T>(OptionResult result, out T? value)
    {
        try
        {
            value = result.GetValueOrDefault<T>();
        }
        catch (InvalidOperationException)
        {
            value = default;
            return false;
        }
        return !result.Errors.Any();
    }

    private static string Describe(double min, double max) => double.IsPositiveInfinity(max)
        ? $"at least {min.ToString(CultureInfo.InvariantCulture)}"
        : $"between {min.ToString(CultureInfo.InvariantCulture)} and {max.ToString(CultureInfo.InvariantCulture)}";
}
