using System.Text.Json;

namespace StreamAnalyzer.Pipeline.Sinks;

/// <summary>Writes one JSON object per line and flushes each, so an interrupted run keeps every finished record.</summary>
public sealed class JsonLinesWriter : IDisposable
{
    private static readonly JsonSerializerOptions Options = new() { WriteIndented = false };
    private readonly StreamWriter _writer;

    /// <summary>Creates (or truncates) <paramref name="path"/>, creating its folder.</summary>
    public JsonLinesWriter(string path)
    {
        Path = System.IO.Path.GetFullPath(path);
        if (System.IO.Path.GetDirectoryName(Path) is { } dir) Directory.CreateDirectory(dir);
        _writer = new StreamWriter(Path, append: false) { NewLine = "\n" };
    }

    /// <summary>The file written.</summary>
    public string Path { get; }

    /// <summary>Appends one record.</summary>
    public void Write<T>(T record)
    {
        _writer.WriteLine(JsonSerializer.Serialize(record, Options));
        _writer.Flush();
    }

    /// <inheritdoc/>
    public void Dispose() => _writer.Dispose();
}
