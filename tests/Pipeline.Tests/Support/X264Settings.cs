namespace StreamAnalyzer.Pipeline.Tests.Support;

/// <summary>The settings x264 writes into every stream it encodes ("cabac=1 ref=1 ..."): which preset made a file.</summary>
public static class X264Settings
{
    /// <summary>The settings string in <paramref name="video"/>; fails the test when the file has none.</summary>
    public static string Of(string video)
    {
        string bytes = System.Text.Encoding.ASCII.GetString(File.ReadAllBytes(video));
        int at = bytes.IndexOf("options: ", StringComparison.Ordinal);
        Assert.True(at >= 0, $"{video}: x264's settings are not in the file");
        return bytes[at..bytes.IndexOf('\0', at)];
    }
}
