using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using StreamGate.Logging;
using StreamGate.Proxy.Native;
using StreamGate.Routing;
using StreamGate.Runtime;
using StreamGate.Upstreams;

namespace StreamGate.Proxy.Tcp;

/// <summary>
/// One thread, one epoll instance, its own SO_REUSEPORT listening sockets and the connections they accept,
/// like an nginx worker. Sockets are non-blocking and registered edge-triggered once, so readiness costs no
/// epoll_ctl calls; a connection moves bytes through the loop's scratch buffer with recv/send.
/// All connection state is touched only by this thread; other threads talk to it through <see cref="Signal"/>.
/// </summary>
internal sealed unsafe partial class EventLoop : IDisposable
{
    private const int MaxEvents = 512;

    // 64 KiB per read: four times nginx's 16k proxy_buffer_size, so a bulk transfer makes a quarter of the
    // syscalls; it is one buffer per loop, not per connection, so the size costs no per-connection memory.
    private const int ScratchSize = 64 * 1024;

    // Reads per direction per turn before yielding to other connections (fairness under bulk load).
    private const int MaxReadsPerTurn = 8;

    private const int AcceptsPerTurn = 64;
    private const int SweepIntervalMs = 100;

    private const uint KindClient = 0;
    private const uint KindUpstream = 1;
    private const uint KindListener = 2;
    private const uint KindWake = 3;

    private const int CommandStopAccepting = 1;
    private const int CommandAbortAll = 2;
    private const int CommandExit = 4;
    private const int CommandSnapshotChanged = 8;

    private static readonly bool PackedEvents = RuntimeInformation.ProcessArchitecture is Architecture.X64 or Architecture.X86;
    private static readonly int EventSize = PackedEvents ? 12 : 16;
    private static readonly int DataOffset = PackedEvents ? 4 : 8;

    private static long s_connectionNumber;

    private readonly int _index;
    private readonly int _epoll;
    private readonly int _wake;
    private readonly byte* _scratch;
    private readonly byte* _events;
    private readonly SnapshotHolder _snapshots;
    private readonly AccessLogBuffer? _accessLog;
    private readonly ILogger _logger;
    private readonly List<ListenerSocket> _listeners = [];
    private readonly List<TcpConnection> _ready = [];
    private readonly Stack<int> _freeSlots = new();
    private TcpConnection[] _slots = new TcpConnection[64];
    private int _slotCount;
    private uint _nextTag;
    private int _commands;
    private int _active;
    private long _now;
    private long _nextSweep;
    private long _listenersPausedUntil;
    private int _acceptBackoffMs;
    private Thread? _thread;

    /// <summary>-1: connections keep a stale route or upstream until they end (APISIX's behaviour).</summary>
    private readonly long _drainOnChangeMs;

    public EventLoop(int index, SnapshotHolder snapshots, AccessLogWriter? accessLog, ILogger logger, long drainOnChangeMs = -1)
    {
        _drainOnChangeMs = drainOnChangeMs;
        _index = index;
        _snapshots = snapshots;
        _accessLog = accessLog?.CreateLoopBuffer();
        _logger = logger;
        _epoll = Check(LibC.EpollCreate1(LibC.EPOLL_CLOEXEC), "epoll_create1");
        _wake = Check(LibC.EventFd(0, LibC.EFD_NONBLOCK | LibC.EFD_CLOEXEC), "eventfd");
        Register(_wake, LibC.EPOLLIN, Data(KindWake, 0, 0));
        _scratch = (byte*)NativeMemory.AlignedAlloc(ScratchSize, 4096);
        _events = (byte*)NativeMemory.Alloc((nuint)(MaxEvents * EventSize));
    }

    /// <summary>Open connections on this loop; read by other threads while shutting down.</summary>
    public int ActiveConnections => Volatile.Read(ref _active);

    public bool Exited => _thread is { IsAlive: false };

    public void AddListener(ListenerSocket listener)
    {
        _listeners.Add(listener);
        Register(listener.Fd, LibC.EPOLLIN, Data(KindListener, 0, (uint)(_listeners.Count - 1)));
    }

    public void Start()
    {
        _thread = new Thread(Run) { Name = $"streamgate-loop-{_index}", IsBackground = true };
        _thread.Start();
    }

    public void StopAccepting() => Signal(CommandStopAccepting);

    public void AbortAll() => Signal(CommandAbortAll);

    public void Exit() => Signal(CommandExit);

    /// <summary>A new snapshot was applied: look for connections it made stale (only when draining is configured).</summary>
    public void SnapshotChanged() => Signal(CommandSnapshotChanged);

    public void Join(TimeSpan timeout) => _thread?.Join(timeout);

    private void Signal(int command)
    {
        Interlocked.Or(ref _commands, command);
        ulong one = 1;
        _ = LibC.Write(_wake, (byte*)&one, sizeof(ulong));
    }

    private void Run()
    {
        _now = Environment.TickCount64;
        _nextSweep = _now + SweepIntervalMs;
        while (true)
        {
            var timeout = _ready.Count > 0 ? 0 : (_active > 0 || _listenersPausedUntil != 0 ? SweepIntervalMs : -1);
            var count = LibC.EpollWait(_epoll, _events, MaxEvents, timeout);
            _now = Environment.TickCount64;
            if (count < 0)
            {
                var errno = LibC.Errno;
                if (errno == LibC.EINTR)
                {
                    continue;
                }
                Log.LoopFailed(_logger, _index, Marshal.GetPInvokeErrorMessage(errno));
                return;
            }
            for (var i = 0; i < count; i++)
            {
                var ev = _events + (i * EventSize);
                Dispatch(*(uint*)ev, *(ulong*)(ev + DataOffset));
            }
            RunReady();
            if (_now >= _nextSweep)
            {
                Sweep();
                _nextSweep = _now + SweepIntervalMs;
            }
            // A plain read every turn; the interlocked exchange only when another thread asked for something.
            var exit = Volatile.Read(ref _commands) != 0 && HandleCommands(Interlocked.Exchange(ref _commands, 0));
            // The access-log lines of every connection this turn ended are published to the writer together.
            _accessLog?.Flush();
            if (exit)
            {
                return;
            }
        }
    }

    private void Dispatch(uint events, ulong data)
    {
        var kind = (uint)data & 3;
        var index = (int)((uint)data >> 2);
        var tag = (uint)(data >> 32);
        switch (kind)
        {
            case KindClient:
                {
                    var c = _slots[index];
                    if (c.ClientTag == tag && c.State != ConnectionState.Free)
                    {
                        OnClientEvent(c, events);
                    }
                    break;
                }
            case KindUpstream:
                {
                    var c = _slots[index];
                    if (c.UpstreamTag == tag && c.State != ConnectionState.Free)
                    {
                        OnUpstreamEvent(c, events);
                    }
                    break;
                }
            case KindListener:
                if (index < _listeners.Count && _listeners[index].Fd >= 0)
                {
                    Accept(_listeners[index]);
                }
                break;
            default:
                ulong value;
                _ = LibC.Read(_wake, (byte*)&value, sizeof(ulong));
                break;
        }
    }

    private bool HandleCommands(int commands)
    {
        if ((commands & CommandStopAccepting) != 0)
        {
            CloseListeners();
        }
        if ((commands & CommandAbortAll) != 0)
        {
            for (var i = 0; i < _slotCount; i++)
            {
                if (_slots[i].State != ConnectionState.Free)
                {
                    Close(_slots[i], 200, reset: false);
                }
            }
        }
        if ((commands & CommandSnapshotChanged) != 0 && _drainOnChangeMs >= 0)
        {
            MarkStaleConnections(_snapshots.Current);
        }
        return (commands & CommandExit) != 0;
    }

    /// <summary>
    /// beyond APISIX (apache/apisix#11619): connections whose route was deleted, or whose route now sends to a
    /// different upstream, get a deadline; the sweep closes them when it passes.
    /// </summary>
    private void MarkStaleConnections(RuntimeSnapshot snapshot)
    {
        for (var i = 0; i < _slotCount; i++)
        {
            var c = _slots[i];
            if (c.State == ConnectionState.Free || c.DrainDeadline != 0 || ReferenceEquals(c.Snapshot, snapshot))
            {
                continue;
            }
            var current = snapshot.Routes.FindById(c.Route!.Id);
            if (current is null || current.Upstream.Fingerprint != c.Route.Upstream.Fingerprint)
            {
                c.DrainDeadline = _now + Math.Max(1, _drainOnChangeMs);
            }
        }
    }

    private void CloseListeners()
    {
        foreach (var listener in _listeners)
        {
            if (listener.Fd >= 0)
            {
                _ = LibC.Close(listener.Fd);
                listener.Fd = -1;
            }
        }
        _listenersPausedUntil = 0;
    }

    private static ulong Data(uint kind, uint tag, uint index) => ((ulong)tag << 32) | (index << 2) | kind;

    private void Register(int fd, uint events, ulong data)
    {
        var ev = stackalloc byte[16];
        *(uint*)ev = events;
        *(ulong*)(ev + DataOffset) = data;
        Check(LibC.EpollCtl(_epoll, LibC.EPOLL_CTL_ADD, fd, ev), "epoll_ctl");
    }

    private static int Check(int result, string call)
    {
        if (result < 0)
        {
            var errno = LibC.Errno;
            throw new IOException($"{call} failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})");
        }
        return result;
    }

    public void Dispose()
    {
        CloseListeners();
        _ = LibC.Close(_wake);
        _ = LibC.Close(_epoll);
        NativeMemory.AlignedFree(_scratch);
        NativeMemory.Free(_events);
    }
}
