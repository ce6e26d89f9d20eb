using System.Runtime.CompilerServices;

namespace StreamGate.Upstreams;

/// <summary>
/// One value per event loop, each on a cache line of its own, for balancer state that a loop reads and writes on
/// every pick (least_conn's rotation, ewma's random numbers): no lock, and no line bouncing between cores. There
/// are as many slots as cores; loops beyond them (worker_processes above the core count) share a slot, where a
/// lost update is harmless for the values kept here (a repeated rotation step, a repeated random number).
/// </summary>
internal sealed class PerLoop<T> where T : unmanaged
{
    private const int CacheLine = 64;
    private static readonly int s_stride = Math.Max(1, CacheLine / Unsafe.SizeOf<T>());

    private readonly T[] _slots;
    private readonly int _count;

    public PerLoop()
    {
        _count = Math.Max(1, Environment.ProcessorCount);
        // One line of padding before the first slot too: the array's header shares a line with whatever precedes it.
        _slots = new T[(_count + 1) * s_stride];
    }

    public int Count => _count;

    public ref T this[int loop]
    {
        get
        {
            var slot = (uint)loop < (uint)_count ? loop : (int)((uint)loop % (uint)_count);
            return ref _slots[(slot + 1) * s_stride];
        }
    }
}
