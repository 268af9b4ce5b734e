using StreamAnalyzer.Pipeline.Model;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Tests.Model;

/// <summary>
/// The modules the shared fixtures do not cover (the P6 family: ReOrg, DownC, Shortcut, IAuxDetect, four levels)
/// built from a config in yolov7's own format, and fusion checked against the unfused network.
/// </summary>
public class ArchitectureTests
{
    private static List<object?> Row(object from, long n, string module, params object?[] args) => [from, n, module, args.ToList()];

    private static List<object?> L(params long[] v) => v.Cast<object?>().ToList();

    /// <summary>A small P6 network in the style of yolov7-e6e's training cfg.</summary>
    private static Dictionary<string, object?> P6Config() => new()
    {
        ["nc"] = 4L,
        ["depth_multiple"] = 1.0,
        ["width_multiple"] = 0.25,
        ["anchors"] = new List<object?> { L(19, 27, 44, 40, 38, 94), L(96, 68, 86, 152, 180, 137), L(140, 301, 303, 264, 238, 542), L(436, 615, 739, 380, 925, 792) },
        ["backbone"] = new List<object?>
        {
            Row(-1L, 1, "ReOrg"),                           // 0  /2
            Row(-1L, 1, "Conv", 64L, 3L, 1L),                // 1
            Row(-1L, 1, "DownC", 128L),                     // 2  /4
            Row(-1L, 1, "Conv", 64L, 1L, 1L),                // 3
            Row(-2L, 1, "Conv", 64L, 1L, 1L),                // 4
            Row(new List<object?> { -1L, -2L }, 1, "Shortcut", 1L), // 5
            Row(-1L, 1, "DownC", 256L),                     // 6  /8
            Row(-1L, 1, "DownC", 384L),                     // 7  /16
            Row(-1L, 1, "DownC", 512L),                     // 8  /32
            Row(-1L, 1, "DownC", 640L),                     // 9  /64
        },
        ["head"] = new List<object?>
        {
            Row(-1L, 1, "SPPCSPC", 320L),                   // 10
            Row(-1L, 1, "Conv", 256L, 1L, 1L),               // 11
            Row(-1L, 1, "nn.Upsample", "None", 2L, "nearest"), // 12 /32
            Row(new List<object?> { -1L, 8L }, 1, "Concat", 1L), // 13
            Row(-1L, 1, "Conv", 192L, 1L, 1L),               // 14
            Row(-1L, 1, "nn.Upsample", "None", 2L, "nearest"), // 15 /16
            Row(new List<object?> { -1L, 7L }, 1, "Concat", 1L), // 16
            Row(-1L, 1, "Conv", 128L, 1L, 1L),               // 17
            Row(-1L, 1, "nn.Upsample", "None", 2L, "nearest"), // 18 /8
            Row(new List<object?> { -1L, 6L }, 1, "Concat", 1L), // 19
            Row(-1L, 1, "Conv", 64L, 3L, 1L, "None", 1L, "nn.LeakyReLU(0.1)"), // 20 P3
            Row(-1L, 1, "DownC", 128L),                     // 21 P4
            Row(-1L, 1, "DownC", 192L),                     // 22 P5
            Row(-1L, 1, "DownC", 256L),                     // 23 P6
            Row(19L, 1, "Conv", 64L, 3L, 1L),                // 24 aux P3
            Row(16L, 1, "Conv", 128L, 3L, 1L),               // 25 aux P4
            Row(13L, 1, "Conv", 192L, 3L, 1L),               // 26 aux P5
            Row(10L, 1, "Conv", 256L, 3L, 1L),               // 27 aux P6
            Row(new List<object?> { 20L, 21L, 22L, 23L, 24L, 25L, 26L, 27L }, 1, "IAuxDetect", "nc", "anchors"),
        },
    };

    [Fact]
    public void P6NetworkBuildsWithFourLevelsAndStride64()
    {
        using var model = YoloModel.FromArchitecture(P6Config());
        Assert.Equal([8f, 16f, 32f, 64f], model.Strides);
        Assert.Equal(64, model.MaxStride);
        Assert.Equal([20, 21, 22, 23], model.HeadInputs);
        Assert.Equal("IAuxDetect", model.Head.Kind);
        Assert.Equal(16L, model.Layers[1].OutChannels); // 64 x width 0.25

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var pred = model.forward(rand(2, 3, 128, 192));
        long cells = new[] { 8, 16, 32, 64 }.Sum(s => (128 / s) * (192 / s));
        Assert.Equal(new long[] { 2, 3 * cells, 9 }, pred.shape);
    }

    [Fact]
    public void FusingAP6NetworkKeepsItsOutputs()
    {
        using var model = YoloModel.FromArchitecture(P6Config());
        RandomiseNormalisation(model);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var x = rand(1, 3, 128, 128);
        var unfused = model.forward(x).clone();
        int before = model.named_modules().Count(m => m.module is BatchNorm2d);
        model.Fuse();
        Assert.True(before > 0);
        Assert.DoesNotContain(model.named_modules(), m => m.module is BatchNorm2d);
        Assert.DoesNotContain(model.named_parameters(), p => p.name.Contains(".ia.") || p.name.Contains(".im."));
        var fused = model.forward(x);
        Assert.True((fused - unfused).abs().max().item<float>() < 1e-3f);
        Assert.True(unfused.std().item<float>() > 0.01f);
    }

    [Fact]
    public void UnknownModulesAndBadInputsAreNamedByLayer()
    {
        var config = P6Config();
        ((List<object?>)config["backbone"]!)[3] = Row(-1L, 1, "C3", 64L);
        Assert.Equal("layer 3: module 'C3' is not supported", Assert.Throws<ArchitectureException>(() => YoloModel.FromArchitecture(config)).Message);

        config = P6Config();
        ((List<object?>)config["backbone"]!)[3] = Row(7L, 1, "Conv", 64L);
        Assert.Contains("layer 3: input 7 does not refer to an earlier layer", Assert.Throws<ArchitectureException>(() => YoloModel.FromArchitecture(config)).Message);
    }

    private static void RandomiseNormalisation(nn.Module model)
    {
        using var _ = no_grad();
        foreach (var (_, module) in model.named_modules())
        {
            if (module is BatchNorm2d bn)
            {
                bn.running_mean!.copy_(randn_like(bn.running_mean) * 0.1);
                bn.running_var!.copy_(rand_like(bn.running_var) + 0.5);
                bn.weight.copy_(rand_like(bn.weight) + 0.5);
                bn.bias!.copy_(randn_like(bn.bias) * 0.1);
            }
        }
        foreach (var (name, p) in model.named_parameters())
            if (name.EndsWith("implicit")) p.copy_(p + randn_like(p) * 0.05);
    }
}
