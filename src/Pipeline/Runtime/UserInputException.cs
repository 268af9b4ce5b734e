namespace StreamAnalyzer.Pipeline.Runtime;

/// <summary>Bad input from the user (a missing file, an unusable option value): reported as a plain message, never a stack trace.</summary>
public sealed class UserInputException(string message, Exception? inner = null) : Exception(message, inner);
