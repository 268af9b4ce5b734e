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
