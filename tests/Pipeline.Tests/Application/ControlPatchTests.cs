using System.Text.Json;
using StreamAnalyzer.Pipeline.Application;
using StreamAnalyzer.Pipeline.Runtime;

namespace StreamAnalyzer.Pipeline.Tests.Application;

/// <summary>The web API's control bodies: unknown keys and values of the wrong type are named, not ignored.</summary>
public class ControlPatchTests
{
    private static ControlPatch Read(string json)
    {
        using var document = JsonDocument.Parse(json);
        return ControlPatch.Read(document.RootElement);
    }

    [Theory]
    [InlineData("{\"unknown_key\": 1}", "unknown control 'unknown_key'; the controls are method, layers, target, top_k, cam_every, conf, classes, heatmap, alpha")]
    [InlineData("{\"alpha\": 0.5, \"topk\": 2, \"mehtod\": \"odam\"}", "unknown controls 'topk', 'mehtod'; the controls are method,")]
    [InlineData("{\"alpha\": \"x\"}", "alpha must be a number between 0 and 1, not \"x\"")]
    [InlineData("{\"top_k\": 1.5}", "top_k must be a whole number, at least 1, not 1.5")]
    [InlineData("{\"cam_every\": \"5\"}", "cam_every must be a whole number, 0 (never) or more, not \"5\"")]
    [InlineData("{\"conf\": true}", "conf must be a number between 0 and 1, not true")]
    [InlineData("{\"classes\": [0, \"car\"]}", "classes must be a list of class ids (whole numbers from 0), [] for every class, not [0, \"car\"]")]
    [InlineData("{\"classes\": 2}", "classes must be a list of class ids")]
    [InlineData("{\"heatmap\": \"off\"}", "heatmap must be true or false, not \"off\"")]
    [InlineData("{\"method\": 3}", "method must be a string: a CAM method name, not 3")]
    [InlineData("[1, 2]", "the body is not a JSON object of controls (method, layers,")]
    public void AMistakeIsNamedWithWhatIsExpected(string json, string message)
    {
        var e = Assert.Throws<UserInputException>(() => Read(json));
        Assert.StartsWith(message, e.Message);
    }

    [Fact]
    public void KnownKeysInAnyCaseAndNullsAreAccepted()
    {
        var patch = Read("{\"method\": \"odam\", \"Top_K\": 2, \"cam_every\": 0, \"conf\": 0.5, \"classes\": [2, 0], \"heatmap\": false, \"alpha\": 0.25, \"layers\": null}");
        Assert.Equal(new ControlPatch { Method = "odam", TopK = 2, CamEvery = 0, ConfThreshold = 0.5f, Classes = patch.Classes, Heatmap = false, Alpha = 0.25 }, patch);
        Assert.Equal([2, 0], patch.Classes!);
        Assert.Null(patch.Layers);
        Assert.Equal(new ControlPatch(), Read("{}"));
    }
}
