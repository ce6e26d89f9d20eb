namespace StreamGate.Proxy.Reactor;

/// <summary>
/// Something with sockets registered on a <see cref="Reactor"/>: a listener, a session. It owns a handle in
/// the reactor's table for its whole life (sessions are pooled, so this is once per pooled object). Each of
/// its sockets is registered under that handle with an endpoint number (0-3) and a fresh generation, so an
/// event still queued for a socket closed earlier in the same turn is recognised as stale and dropped.
/// It is also its own timer (<see cref="TimerEntry"/>): a session's deadlines need no second object.
/// </summary>
internal abstract class Pollable : TimerEntry
{
    /// <summary>Index in the reactor's handle table; set by <see cref="HandleTable.Add"/>.</summary>
    public int Handle { get; internal set; } = -1;

    /// <summary>Readiness for endpoint <paramref name="endpoint"/> registered with <paramref name="generation"/>.</summary>
    public abstract void OnReady(int endpoint, uint generation, uint events);

    /// <summary>Owners that never arm a timer (listeners, the wake-up eventfd) are never called.</summary>
    public override void OnTimer(long now)
    {
    }
}

/// <summary>
/// Maps the handle carried in each epoll registration to its owner. The 64-bit epoll data is
/// generation (32 bits) | handle (30 bits) | endpoint (2 bits): no lookup structure beyond an array.
/// </summary>
internal sealed class HandleTable
{
    public const int MaxEndpoint = 3;

    // Entries are never removed: sessions are pooled and keep their handle, listeners live as long as the loop.
    private Pollable?[] _items = new Pollable?[64];
    private int _count;

    public Pollable? this[int handle] => (uint)handle < (uint)_count ? _items[handle] : null;

    public int Add(Pollable item)
    {
        if (_count == _items.Length)
        {
            Array.Resize(ref _items, _items.Length * 2);
        }
        var handle = _count++;
        _items[handle] = item;
        item.Handle = handle;
        return handle;
    }

    public static ulong Pack(int handle, int endpoint, uint generation) =>
        ((ulong)generation << 32) | ((uint)handle << 2) | (uint)endpoint;

    public static void Unpack(ulong data, out int handle, out int endpoint, out uint generation)
    {
        endpoint = (int)(data & MaxEndpoint);
        handle = (int)((uint)data >> 2);
        generation = (uint)(data >> 32);
    }
}
