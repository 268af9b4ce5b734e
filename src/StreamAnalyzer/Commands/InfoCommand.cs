using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using StreamAnalyzer.Pipeline.Checkpoints;
using StreamAnalyzer.Pipeline.Model;

namespace StreamAnalyzer.Cli.Commands;

/// <summary><c>stream-analyzer info --weights W</c>: what a checkpoint holds and which layers feed the detect head.</summary>
internal static class InfoCommand
{
    public static Command Create()
    {
        var weights = CommonOptions.Weights();
        var command = new Command("info", "Show a checkpoint's family, classes, size, strides, detection defaults and layers (marking the layers that feed the detect head)")
        {
            weights,
        };
        command.SetAction(parse => CommandRunner.Run(() => Execute(parse.GetValue(weights)!)));
        return command;
    }

    private static int Execute(FileInfo weights)
    {
        var checkpoint = YoloCheckpoint.Load(weights.FullName);
        using var model = YoloModel.FromCheckpoint(checkpoint, fuse: false);
        long parameters = model.parameters().Sum(p => p.numel());
        model.Fuse();
        long fused = model.parameters().Sum(p => p.numel());

        var console = AnsiConsole.Console;
        var layout = model.Layout;
        var defaults = model.Family.Defaults;
        Console.WriteLine($"checkpoint   {weights.FullName}  (network from '{checkpoint.ModelSource}')");
        Console.WriteLine($"family       {model.Family.DisplayName}  (model class {checkpoint.Root.Type.FullName})");
        Console.WriteLine($"head         {model.Head.Kind}, {model.Head.NumLevels} levels, " + (layout.Encoding == BoxEncoding.AnchorOffsets
            ? $"{layout.AnchorsPerCell} anchors per cell, boxes from anchor offsets, with objectness"
            : "anchor-free, boxes from side distributions (DFL), no objectness"));
        Console.WriteLine($"output       {(layout.UpstreamChannelsFirst ? $"(B, {layout.Columns}, N)" : $"(B, N, {layout.Columns})")}: " +
            $"box xywh, {(layout.HasObjectness ? "objectness, " : "")}{layout.NumClasses} class scores");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"defaults     conf {defaults.ConfThreshold}, iou {defaults.IouThreshold}, max-det {defaults.MaxDetections} ({defaults.Source}; flags override them)"));
        Console.WriteLine($"classes      {model.NumClasses}: {string.Join(", ", model.Names)}");
        Console.WriteLine($"parameters   {parameters:N0} ({fused:N0} after fusing)");
        Console.WriteLine($"strides      {string.Join(", ", model.Strides)} (input sides must be multiples of {model.MaxStride})");

        var table = new Table().Border(TableBorder.Simple)
            .AddColumns("layer", "from", "module", "out ch", "level", "feeds head");
        foreach (var layer in model.Layers)
        {
            string feeds = layer.FeedsHead is int level ? $"P{(int)Math.Round(Math.Log2(model.Strides[level]))} (explain here)" : "";
            table.AddRow(layer.Index.ToString(), string.Join(",", layer.From), Markup.Escape(layer.Module),
                layer.OutChannels > 0 ? layer.OutChannels.ToString() : "-", layer.Level, feeds);
        }
        console.Write(table);
        return 0;
    }
}
