using System.CommandLine;
using System.Globalization;
using Spectre.Console;
using StreamAnalyzer.Cluster;
using StreamAnalyzer.Pipeline.Explainers.Methods;
using StreamAnalyzer.Pipeline.Sources;

namespace StreamAnalyzer.Cli.Commands;

/// <summary><c>stream-analyzer cameras add|remove|list</c>: the cluster's cameras, kept in a NATS key-value bucket.</summary>
internal static class CamerasCommand
{
    public static Command Create()
    {
        var command = new Command("cameras", "The cameras a cluster of workers runs (kept in NATS; see `worker`)") { Add(), Remove(), List() };
        return command;
    }

    private static Command Add()
    {
        var nats = new NatsOptions();
        var name = new Argument<string>("name") { Description = "the camera's name (letters, digits, '-', '_')" };
        var source = new Option<string>("--source") { Description = "stream URL, camera index or video file, as the workers reach it", Required = true };
        var weights = new Option<string>("--weights", "-w") { Description = "checkpoint path on the workers", Required = true };
        var imgSize = CommonOptions.ImageSize();
        var conf = CommonOptions.ConfThreshold();
        var camMethod = CommonOptions.CamMethodOption("--cam-method");
        var layers = new Option<string>("--layers") { Description = "auto, neck, or layer indices / submodule paths", DefaultValueFactory = _ => "auto" };
        var camEvery = new Option<int>("--cam-every") { Description = "explain every Nth frame (0 = never)", DefaultValueFactory = _ => 0 }.AtLeast(0);
        var topK = CommonOptions.TopK();
        var record = new Option<bool>("--record") { Description = "record an annotated MP4 on the worker's disk (under its --output)" };
        var replace = new Option<bool>("--replace") { Description = "replace the settings of an existing camera (its worker restarts it)" };
        var command = new Command("add", "Add a camera (a worker with room picks it up within seconds)")
        {
            name, source, weights, imgSize, conf, camMethod, layers, camEvery, topK, record, replace,
        };
        nats.AddTo(command);
        command.SetAction((p, token) => CommandRunner.RunAsync(async cancel =>
        {
            var spec = new CameraSpec
            {
                Name = ClusterLayout.CheckName(p.GetValue(name)!, "camera"), Source = p.GetValue(source)!, Weights = p.GetValue(weights)!,
                ImageSize = p.GetValue(imgSize), ConfThreshold = p.GetValue(conf), Method = CamMethod.Parse(p.GetValue(camMethod)!).Name,
                Layers = p.GetValue(layers)!.Trim().ToLowerInvariant(), CamEvery = p.GetValue(camEvery), TopK = p.GetValue(topK), Record = p.GetValue(record),
            };
            if (!File.Exists(spec.Weights))
                Console.Error.WriteLine($"note: {spec.Weights} is not on this machine; each worker reads it from its own disk");
            await using var cluster = await ClusterConnection.ConnectAsync(nats.Read(p, "stream-analyzer cameras"), cancel);
            await new CameraRegistry(await cluster.CamerasAsync(cancel)).AddAsync(spec, p.GetValue(replace), cancel);
            Console.WriteLine($"camera {spec.Name}: {(p.GetValue(replace) ? "set" : "added")} ({StreamAddress.Redacted(spec.Source)})");
            return 0;
        }, token));
        return command;
    }

    private static Command Remove()
    {
        var nats = new NatsOptions();
        var names = new Argument<string[]>("name") { Description = "the camera(s) to remove", Arity = ArgumentArity.OneOrMore };
        var command = new Command("remove", "Remove cameras (their worker stops them within seconds, finishing its outputs)") { names };
        nats.AddTo(command);
        command.SetAction((p, token) => CommandRunner.RunAsync(async cancel =>
        {
            await using var cluster = await ClusterConnection.ConnectAsync(nats.Read(p, "stream-analyzer cameras"), cancel);
            var registry = new CameraRegistry(await cluster.CamerasAsync(cancel));
            int missing = 0;
            foreach (var name in p.GetValue(names)!)
            {
                if (await registry.RemoveAsync(name, cancel))
                {
                    Console.WriteLine($"camera {name}: removed");
                }
                else
                {
                    Console.Error.WriteLine($"error: no camera named '{name}'");
                    missing++;
                }
            }
            return missing == 0 ? 0 : CommandRunner.Failure;
        }, token));
        return command;
    }

    private static Command List()
    {
        var nats = new NatsOptions();
        var json = new Option<bool>("--json") { Description = "one JSON object per camera, one per line" };
        var command = new Command("list", "List the cameras and who runs them") { json };
        nats.AddTo(command);
        command.SetAction((p, token) => CommandRunner.RunAsync(async cancel =>
        {
            await using var cluster = await ClusterConnection.ConnectAsync(nats.Read(p, "stream-analyzer cameras"), cancel);
            var snapshot = await ClusterSnapshot.ReadAsync(cluster, cancel);
            if (p.GetValue(json))
            {
                foreach (var spec in snapshot.Cameras.Values.OrderBy(c => c.Name, StringComparer.Ordinal))
                {
                    var line = System.Text.Json.JsonSerializer.SerializeToNode(spec, ClusterJson.Options)!.AsObject();
                    line["source"] = StreamAddress.Redacted(spec.Source);
                    line["worker"] = snapshot.Leases.TryGetValue(spec.Name, out var held) ? held.Lease.Worker : null;
                    Console.WriteLine(line.ToJsonString());
                }
                return 0;
            }
            if (snapshot.Cameras.Count == 0)
            {
                Console.WriteLine("no cameras (add one with `stream-analyzer cameras add NAME --source URL --weights FILE --nats URL`)");
                return 0;
            }
            var table = new Table().Border(TableBorder.Simple).AddColumns("camera", "source", "model", "explain", "worker");
            foreach (var spec in snapshot.Cameras.Values.OrderBy(c => c.Name, StringComparer.Ordinal))
            {
                string explain = spec.CamEvery > 0 ? $"{spec.Method} at {spec.Layers}, every {spec.CamEvery.ToString(CultureInfo.InvariantCulture)}" : "off";
                string worker = snapshot.Leases.TryGetValue(spec.Name, out var held) ? held.Lease.Worker : "(waiting for a worker)";
                table.AddRow(Markup.Escape(spec.Name), Markup.Escape(StreamAddress.Redacted(spec.Source)), Markup.Escape($"{Path.GetFileName(spec.Weights)} @{spec.ImageSize}"), Markup.Escape(explain), Markup.Escape(worker));
            }
            if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 200; // a pipe or a log: no terminal width to fit
            AnsiConsole.Write(table);
            return 0;
        }, token));
        return command;
    }
}
