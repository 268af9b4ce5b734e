using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Tests.Runtime;

/// <summary>libtorch loads from a fresh build (the build marks GLIBCXX_3.4.32 weak where libstdc++ is older).</summary>
public class TorchSharpRuntimeTests
{
    [Fact]
    public void ATensorOperationRuns()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 1, 2, 3, 4 }).reshape(2, 2);
        var product = a.matmul(a);
        Assert.Equal(new float[] { 7, 10, 15, 22 }, product.data<float>().ToArray());
    }
}
