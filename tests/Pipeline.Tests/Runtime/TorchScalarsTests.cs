using Mono.Cecil;
using Mono.Cecil.Cil;
using StreamAnalyzer.Pipeline.Detection;

namespace StreamAnalyzer.Pipeline.Tests.Runtime;

/// <summary>
/// TorchSharp 0.107 turns a number given to a tensor operation into a <c>Scalar</c> that nothing keeps alive while
/// libtorch reads it, and <c>a + b</c> (<c>add(b)</c>) makes its alpha from the number 1 the same way: the collector
/// can finalise it mid-call (a fresh CI run once failed so). The library's built code is read for such calls.
/// </summary>
public class TorchScalarsTests
{
    [Fact]
    public void NoCallInTheLibraryHandsLibtorchAScalarThatNothingKeeps()
    {
        var offenders = MadeOnTheSpot(typeof(Detector).Assembly.Location);
        Assert.True(offenders.Count == 0, "calls that make a scalar on the spot (use TorchScalars.Of/One/Plus, or a disposed ToScalar()):\n"
            + string.Join("\n", offenders));
    }

    [Fact]
    public void TheCheckFindsATensorAdditionAndANumberOperand()
    {
        // This test assembly adds tensors with the operator on purpose (below): the check must see it.
        var offenders = MadeOnTheSpot(typeof(TorchScalarsTests).Assembly.Location);
        Assert.Contains(offenders, o => o.Contains(nameof(AddsTheUnsafeWay)) && o.Contains("op_Addition"));
        Assert.Contains(offenders, o => o.Contains(nameof(AddsTheUnsafeWay)) && o.Contains("op_Multiply"));
    }

    private static TorchSharp.torch.Tensor AddsTheUnsafeWay(TorchSharp.torch.Tensor a, TorchSharp.torch.Tensor b) => (a + b) * 2.0;

    private static List<string> MadeOnTheSpot(string assembly)
    {
        using var module = ModuleDefinition.ReadModule(assembly);
        var offenders = new List<string>();
        foreach (var type in module.GetTypes())
            foreach (var method in type.Methods.Where(m => m.HasBody))
                foreach (var instruction in method.Body.Instructions)
                    if (instruction.OpCode.FlowControl == FlowControl.Call && instruction.Operand is MethodReference callee && MakesAScalar(callee))
                        offenders.Add($"{type.FullName}.{method.Name} calls {callee.DeclaringType.Name}.{callee.Name}({string.Join(", ", callee.Parameters.Select(p => p.ParameterType.Name))})");
        return offenders;
    }

    private static bool MakesAScalar(MethodReference callee)
    {
        string type = callee.DeclaringType.FullName;
        if (type == "TorchSharp.Scalar") return callee.Name == "op_Implicit";
        if (type != "TorchSharp.torch/Tensor") return false;
        var parameters = callee.Parameters.Select(p => p.ParameterType.FullName).ToArray();
        return callee.Name switch
        {
            "op_Addition" => true,                                       // add(b, 1)
            "add" or "add_" => parameters.Length == 1,                   // the alpha made from 1
            "op_Implicit" => true,                                       // a tensor made from a number, equally unkept
            var name when name.StartsWith("op_", StringComparison.Ordinal) => parameters.Any(IsNumber), // a * 2.0, 1 - a
            _ => false,
        };
    }

    private static bool IsNumber(string type) => type is "System.Double" or "System.Single" or "System.Int32" or "System.Int64"
        or "System.Boolean" or "System.Byte" or "System.Int16";
}
