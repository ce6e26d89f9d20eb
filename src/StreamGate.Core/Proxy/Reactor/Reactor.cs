using System.Runtime.InteropServices;
using StreamGate.Proxy.Native;

namespace StreamGate.Proxy.Reactor;

/// <summary>What runs on a reactor: it is called back on the reactor's thread, never concurrently.</summary>
internal interface IReactorClient
{
    /// <summary>Work left over from this turn (fairness budgets): the reactor polls without sleeping while true.</summary>
    bool HasDeferredWork { get; }

    void RunDeferred();

    /// <summary>Commands posted by other threads with <see cref="Reactor.Post"/>; returns true to end the loop.</summary>
    bool OnCommands(int commands);

    /// <summary>End of a turn: flush what was batched during it (access-log lines).</summary>
    void OnTurnEnd();

    /// <summary>The loop cannot go on (epoll_wait failed): release everything, the thread then ends.</summary>
    void OnFailed(string error);
}

/// <summary>
/// One thread, one epoll instance: waits for readiness, dispatches it through the handle table, runs the
/// timer wheel and the commands other threads post. It knows nothing of TCP or sessions, so a
/// completion-based backend (io_uring) can replace it without touching them.
/// Sockets are registered edge-triggered once; nothing here blocks except epoll_wait itself.
/// </summary>
internal sealed unsafe class Reactor : IDisposable
{
    private const int MaxEvents = 512;

    private static readonly bool PackedEvents = RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86;
    private static readonly int EventSize = PackedEvents ? 12 : 16;
    private static readonly int DataOffset = PackedEvents ? 4 : 8;

    private readonly int _epoll;
    private readonly int _wake;
    private readonly byte* _events;
    private readonly HandleTable _handles = new();
    private readonly WakeHandle _wakeHandle;
    private IReactorClient? _client;
    private int _commands;
    private uint _generation;
    private Thread? _thread;

    public Reactor(int index)
    {
        Index = index;
        _epoll = LibC.EpollCreate1(LibC.EPOLL_CLOEXEC);
        if (_epoll < 0)
        {
            throw new IOException($"epoll_create1 failed: {Marshal.GetPInvokeErrorMessage(LibC.Errno)}");
        }
        _wake = LibC.EventFd(0, LibC.EFD_NONBLOCK | LibC.EFD_CLOEXEC);
        if (_wake < 0)
        {
            var error = Marshal.GetPInvokeErrorMessage(LibC.Errno);
            _ = LibC.Close(_epoll);
            throw new IOException($"eventfd failed: {error}");
        }
        _events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * EventSize));
        _wakeHandle = new WakeHandle(_wake);
        _handles.Add(_wakeHandle);
        if (Register(_wake, LibC.EPOLLIN, _wakeHandle, 0, 0) != 0)
        {
            Dispose();
            throw new IOException("epoll_ctl failed for the loop's wake-up eventfd");
        }
        Now = Environment.TickCount64;
    }

    public int Index { get; }

    /// <summary>Milliseconds (Environment.TickCount64), read once per turn: every deadline is on this clock.</summary>
    public long Now { get; private set; }

    public TimerWheel Timers { get; } = new();

    public HandleTable Handles => _handles;

    public bool Exited => _thread is { IsAlive: false };

    public bool Started => _thread is not null;

    public void Start(IReactorClient client, string threadName)
    {
        _client = client;
        _thread = new Thread(Run) { Name = threadName, IsBackground = true };
        _thread.Start();
    }

    public void Join(TimeSpan timeout) => _thread?.Join(timeout);

    /// <summary>Posts command bits from any thread; the loop sees them at the end of its current or next turn.</summary>
    public void Post(int command)
    {
        Interlocked.Or(ref _commands, command);
        ulong one = 1;
        _ = LibC.Write(_wake, (byte*)&one, sizeof(ulong));
    }

    /// <summary>A generation for a new registration; zero is never handed out (it marks "not registered").</summary>
    public uint NextGeneration()
    {
        if (++_generation == 0)
        {
            _generation = 1;
        }
        return _generation;
    }

    /// <summary>Registers <paramref name="fd"/> for <paramref name="owner"/>'s endpoint; returns 0 or the errno.</summary>
    public int Register(int fd, uint events, Pollable owner, int endpoint, uint generation)
    {
        var ev = stackalloc byte[16];
        *(uint*)ev = events;
        *(ulong*)(ev + DataOffset) = HandleTable.Pack(owner.Handle, endpoint, generation);
        return LibC.EpollCtl(_epoll, LibC.EPOLL_CTL_ADD, fd, ev) == 0 ? 0 : LibC.Errno;
    }

    public void Unregister(int fd) => _ = LibC.EpollCtl(_epoll, LibC.EPOLL_CTL_DEL, fd, null);

    private void Run()
    {
        var client = _client!;
        while (true)
        {
            var timeout = client.HasDeferredWork ? 0 : Timers.TimeoutMs(Now);
            var count = FaultInjection.FailWait(Index) ? -2 : LibC.EpollWait(_epoll, _events, MaxEvents, timeout);
            Now = Environment.TickCount64;
            if (count < 0)
            {
                var errno = count == -2 ? LibC.EBADF : LibC.Errno;
                if (errno == LibC.EINTR)
                {
                    continue;
                }
                client.OnFailed($"epoll_wait failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
                return;
            }
            for (var i = 0; i < count; i++)
            {
                var ev = _events + (i * EventSize);
                HandleTable.Unpack(*(ulong*)(ev + DataOffset), out var handle, out var endpoint, out var generation);
                _handles[handle]?.OnReady(endpoint, generation, *(uint*)ev);
            }
            if (client.HasDeferredWork)
            {
                client.RunDeferred();
            }
            Timers.Advance(Now);
            // A plain read every turn; the interlocked exchange only when another thread asked for something.
            if (Volatile.Read(ref _commands) != 0 && client.OnCommands(Interlocked.Exchange(ref _commands, 0)))
            {
                client.OnTurnEnd();
                return;
            }
            client.OnTurnEnd();
        }
    }

    public void Dispose()
    {
        _ = LibC.Close(_wake);
        _ = LibC.Close(_epoll);
        NativeMemory.Free(_events);
    }

    /// <summary>The eventfd other threads write to: readiness only means "look at the commands".</summary>
    private sealed class WakeHandle(int fd) : Pollable
    {
        public override void OnReady(int endpoint, uint generation, uint events)
        {
            ulong value;
            _ = LibC.Read(fd, (byte*)&value, sizeof(ulong));
        }
    }
}
