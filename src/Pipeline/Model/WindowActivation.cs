namespace StreamAnalyzer.Pipeline.Model;

/// <summary>The activations a <see cref="WindowProgram"/> convolution may end with.</summary>
internal enum WindowActivation
{
    /// <summary>None.</summary>
    Identity,

    /// <summary><c>x * sigmoid(x)</c>.</summary>
    SiLU,

    /// <summary><c>x</c> above zero, <c>slope * x</c> otherwise.</summary>
    LeakyReLU,

    /// <summary><c>max(x, 0)</c>.</summary>
    ReLU,
}
