using System.CommandLine;
using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Sources;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace StreamAnalyzer.Cli.Commands;

/// <summary>
/// YAML run configurations: keys are the command's long flag names without dashes (<c>img-size: 320</c>;
/// underscores work too). The file's values become flags placed before the command line's, and only for options
/// the command line does not set: flags override the file. Unknown keys and values the option cannot parse are
/// errors naming the file and the key.
/// </summary>
internal static class ConfigFile
{
    /// <summary>The arguments with the config file's settings merged in (the <c>--config</c> value is found by a plain scan).</summary>
    public static string[] Merge(Command command, string[] args)
    {
        int at = Array.FindIndex(args, a => a is "--config" || a.StartsWith("--config=", StringComparison.Ordinal));
        if (at < 0) return args;
        string path = args[at].Contains('=') ? args[at][(args[at].IndexOf('=') + 1)..] : at + 1 < args.Length ? args[at + 1] : "";
        if (path.Length == 0) throw new UserInputException("--config needs a file");
        if (Directory.Exists(path)) throw new UserInputException($"--config {path}: is a folder; give a YAML file");
        if (!File.Exists(path)) throw new UserInputException($"--config {path}: no such file");

        var options = command.Options.ToDictionary(o => o.Name.TrimStart('-'), StringComparer.OrdinalIgnoreCase);
        var given = args.Where(a => a.StartsWith("--", StringComparison.Ordinal)).Select(a => a.Split('=')[0].TrimStart('-'))
            .Select(n => command.Options.FirstOrDefault(o => o.Name.TrimStart('-') == n || o.Aliases.Any(al => al.TrimStart('-') == n))?.Name.TrimStart('-'))
            .OfType<string>().ToHashSet(StringComparer.OrdinalIgnoreCase);

        var tokens = new List<string>();
        foreach (var (key, value) in Read(path))
        {
            string name = key.Replace('_', '-');
            if (name == "config" || !options.TryGetValue(name, out var option))
                throw new UserInputException($"{path}: unknown key '{key}' (keys are the long flag names of `stream-analyzer {command.Name}`, e.g. img-size)");
            if (given.Contains(name)) continue; // the command line wins
            bool many = option.Arity.MaximumNumberOfValues > 1;
            List<string> values = value switch
            {
                YamlScalarNode s => [s.Value ?? ""],
                YamlSequenceNode seq when many => seq.Children.Select(c => (c as YamlScalarNode)?.Value
                    ?? throw new UserInputException($"{path}: '{key}' must be a list of plain values")).ToList(),
                YamlSequenceNode => throw new UserInputException($"{path}: '{key}' takes one value, not a list"),
                _ => throw new UserInputException($"{path}: '{key}' must be a value" + (many ? " or a list of values" : "")),
            };
            // A list becomes the flag repeated (--source a --source b), which every list option takes.
            string[] keyTokens = [.. values.SelectMany(v => new[] { "--" + name, v })];
            foreach (var v in values) CheckRelativePath(path, name, v);
            // The parser checks the value against its option (type and range), so the error can name the key.
            var bad = ParseErrors.Messages(command.Parse(keyTokens)).FirstOrDefault(m => !m.Contains("is required", StringComparison.OrdinalIgnoreCase));
            if (bad is not null) throw new UserInputException($"{path}: '{key}': {bad}");
            tokens.AddRange(keyTokens);
        }
        return [.. tokens, .. args.Where((_, i) => i != at && !(i == at + 1 && !args[at].Contains('=')))];
    }

    // Relative paths in the file are taken from the current folder (configs/demo.yaml names models/... from the
    // repository's root): one that is not there is named with that rule, and where it is beside the file, so.
    private static void CheckRelativePath(string config, string key, string value)
    {
        if (key is not ("weights" or "source")) return;
        string path = key == "source" ? SourceCatalog.SplitLabel(value).Source : value;
        if (path.Length == 0 || path.Contains("://", StringComparison.Ordinal) || path.All(char.IsDigit) || path.IndexOfAny(['*', '?', '[']) >= 0
            || Path.IsPathRooted(path) || File.Exists(path) || Directory.Exists(path)) return;
        string here = Directory.GetCurrentDirectory();
        string beside = Path.Combine(Path.GetDirectoryName(Path.GetFullPath(config))!, path);
        string hint = File.Exists(beside) || Directory.Exists(beside) ? $"; it is beside the config file: write {Path.GetRelativePath(here, beside)}" : "";
        throw new UserInputException($"{config}: '{key}: {value}': no such file or folder in {here} (relative paths in a config file are taken from the current folder){hint}");
    }

    private static IEnumerable<(string Key, YamlNode Value)> Read(string path)
    {
        var stream = new YamlStream();
        try
        {
            using var reader = new StreamReader(path);
            stream.Load(reader);
        }
        catch (YamlException e)
        {
            throw new UserInputException($"{path}: not valid YAML at line {e.Start.Line}: {e.Message}");
        }
        if (stream.Documents.Count == 0) yield break;
        if (stream.Documents[0].RootNode is not YamlMappingNode map)
            throw new UserInputException($"{path}: expected 'key: value' lines");
        foreach (var (k, v) in map.Children)
            yield return (((YamlScalarNode)k).Value ?? "", v);
    }
}
