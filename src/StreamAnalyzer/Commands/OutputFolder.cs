namespace StreamAnalyzer.Cli.Commands;

/// <summary>Upstream's <c>increment_path</c>: runs/detect/exp, exp2, exp3, ... unless the name may be reused.</summary>
internal static class OutputFolder
{
    public static string Create(string project, string name, bool existOk)
    {
        string path = Path.Combine(project, name);
        if (!existOk && Directory.Exists(path))
        {
            int n = 2;
            while (Directory.Exists(path + n)) n++;
            path += n;
        }
        StreamAnalyzer.Pipeline.Sinks.OutputLocation.CreateFolder(path, "--project/--name");
        return path;
    }
}
