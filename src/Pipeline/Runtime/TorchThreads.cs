using static TorchSharp.torch;

namespace StreamAnalyzer.Pipeline.Runtime;

/// <summary>
/// Sets libtorch's intra-op threads until disposed, then puts the previous count back. Counted across threads:
/// the first holder sets the count, the last one restores it, so concurrent inference workers cannot leave it wrong.
/// </summary>
internal sealed class TorchThreads : IDisposable
{
    private static readonly Lock Gate = new();
    private static int _holders;
    private static int _previous;
    private bool _disposed;

    public TorchThreads(int threads)
    {
        lock (Gate)
        {
            if (_holders++ == 0)
            {
                _previous = get_num_threads();
                if (threads != _previous) set_num_threads(threads);
            }
        }
    }

    public void Dispose()
    {
        lock (Gate)
        {
            if (_disposed) return;
            _disposed = true;
            if (--_holders == 0 && get_num_threads() != _previous) set_num_threads(_previous);
        }
    }
}
