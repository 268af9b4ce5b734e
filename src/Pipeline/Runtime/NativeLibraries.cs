using System.Runtime.InteropServices;
using OpenCvSharp;

namespace StreamAnalyzer.Pipeline.Runtime;

/// <summary>
/// Loads the native runtimes (OpenCV, libtorch) up front, turning a failure into one message that says what to
/// install, and quiets the decoder chatter of OpenCV's bundled FFmpeg (damaged videos are reported by the
/// pipeline instead, once per file).
/// </summary>
public static class NativeLibraries
{
    private static int _initialised;

    /// <summary>Checks both runtimes and sets the log levels; safe to call more than once.</summary>
    /// <exception cref="UserInputException">A native runtime cannot be loaded on this machine.</exception>
    public static void Initialise()
    {
        if (Interlocked.Exchange(ref _initialised, 1) == 1) return;
        // FFmpeg reads this when OpenCV opens its first video; a value the user set is kept (e.g. 32 to debug a file).
        if (Environment.GetEnvironmentVariable("OPENCV_FFMPEG_LOGLEVEL") is null) SetNativeEnvironment("OPENCV_FFMPEG_LOGLEVEL", "-8");

        try
        {
            _ = Cv2.GetVersionString();
            if (Environment.GetEnvironmentVariable("OPENCV_LOG_LEVEL") is null) Cv2.SetLogLevel(OpenCvSharp.LogLevel.ERROR);
        }
        catch (Exception e) when (e is TypeInitializationException or DllNotFoundException or EntryPointNotFoundException or BadImageFormatException)
        {
            throw new UserInputException("OpenCV's native runtime (libOpenCvSharpExtern) cannot be loaded: " + Condense(Innermost(e).Message, "libOpenCvSharpExtern.so:") +
                (OperatingSystem.IsLinux() ? ". It needs GTK 3 and its libraries: install libgtk-3-0 (scripts/setup.sh does), e.g. `sudo apt-get install libgtk-3-0`" : ""), e);
        }
        try
        {
            TorchSharp.torch.InitializeDeviceType(TorchSharp.DeviceType.CPU);
        }
        catch (Exception e) when (e is NotSupportedException or TypeInitializationException or DllNotFoundException)
        {
            throw new UserInputException("libtorch (TorchSharp's native runtime) cannot be loaded: " + Innermost(e).Message +
                " - rebuild with `dotnet build` so the build can prepare it for this system (see README, Platform notes); a build made with -p:TorchBackend=system needs the libtorch folder of an installed PyTorch (site-packages/torch/lib) on LD_LIBRARY_PATH", e);
        }
    }

    private static Exception Innermost(Exception e) => e.InnerException is null ? e : Innermost(e.InnerException);

    // The loader's message lists every path it tried; the one line about the library itself says why (e.g. a missing libgtk-3.so.0).
    private static string Condense(string message, string marker)
    {
        var lines = message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        return lines.FirstOrDefault(l => l.Contains(marker, StringComparison.Ordinal) && !l.Contains("No such file", StringComparison.Ordinal))
            ?? lines.FirstOrDefault() ?? message;
    }

    // .NET keeps its own copy of the environment on Unix: native code (FFmpeg) only sees what setenv() sets.
    private static void SetNativeEnvironment(string name, string value)
    {
        Environment.SetEnvironmentVariable(name, value);
        if (!OperatingSystem.IsWindows()) _ = setenv(name, value, 0);
    }

    [DllImport("libc", CharSet = CharSet.Ansi, BestFitMapping = false, ThrowOnUnmappableChar = true)]
    private static extern int setenv(string name, string value, int overwrite);
}
