using StreamAnalyzer.Pipeline.Runtime;
using StreamAnalyzer.Pipeline.Sources;
using StreamAnalyzer.Pipeline.Tests.Support;

namespace StreamAnalyzer.Pipeline.Tests.Sources;

/// <summary>Several <c>--source</c> values, <c>name=source</c>, and the short names outputs and the web page use.</summary>
public class SourceNamingTests
{
    [Fact]
    public void NamedSourcesKeepTheirNamesAndTheOthersGetStemsOrStreamNumbers()
    {
        var entries = SourceCatalog.ResolveAll(["gate=rtsp://10.0.0.5:554/stream?a=b", Fixtures.DemoClip, "rtsp://10.0.0.6/live", $"yard={Fixtures.DemoClip}"]);
        Assert.Equal(4, entries.Count);
        Assert.Equal("rtsp://10.0.0.5:554/stream?a=b", entries[0].Name);
        Assert.True(entries[0].IsLive);
        Assert.Equal(["gate", "shapes-demo", "stream2", "yard"], SourceCatalog.ShortNames(entries));
    }

    [Fact]
    public void ShortNamesAreUniqueAndSafeInFileNamesAndUrls()
    {
        SourceCatalog.Entry Entry(string name) => new(name, () => throw new InvalidOperationException());
        var names = SourceCatalog.ShortNames([Entry("/videos/front door.mp4"), Entry("/other/front door.mp4"), Entry("/x/../..mp4"), Entry("/a/ümlaut#1.mp4")]);
        Assert.Equal(["front_door", "front_door_2", "source2", "_mlaut_1"], names);
    }

    [Fact]
    public void TwoSourcesWithOneNameAreRefused()
    {
        var e = Assert.Throws<UserInputException>(() => SourceCatalog.ResolveAll([$"cam={Fixtures.DemoClip}", "cam=rtsp://h/x"]));
        Assert.Contains("the name 'cam' is given to 2 sources", e.Message);
    }

    [Fact]
    public void AFileWhoseNameContainsAnEqualsSignIsStillAFile()
    {
        using var dir = new TempDirectory();
        string odd = dir.File("a=b.mp4");
        File.Copy(Fixtures.DemoClip, odd);
        var entries = SourceCatalog.ResolveAll([odd]);
        Assert.Null(entries[0].Label);
        Assert.Equal(Path.GetFullPath(odd), entries[0].Name);
    }
}
