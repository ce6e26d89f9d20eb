using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using StreamGate.Logging;
using StreamGate.Proxy.Reactor;
using StreamGate.Runtime;
using StreamGate.Upstreams;

namespace StreamGate.Proxy.Tcp;

/// <summary>
/// The TCP side of one event loop, like an nginx worker: its own SO_REUSEPORT listening sockets, the sessions
/// they accept (pooled), a connection cap, the accept back-off, and the loop's scratch buffer. Everything
/// here runs on the reactor's thread; other threads talk to it only through <see cref="Post"/>.
/// </summary>
internal sealed unsafe partial class TcpWorker : IReactorClient, IDisposable
{
    // 32 KiB per read: twice nginx's 16k proxy_buffer_size. One iperf3 stream through the gateway moved
    // 14 Gbit per CPU-second with 32 KiB, 13 with 16 KiB and 10.5 with 64 KiB (2026-12-03, 4 interleaved rounds):
    // a buffer that stays in L1/L2 between recv and send beats fewer, larger syscalls. One buffer per loop,
    // not per connection, so the size costs no per-connection memory.
    public const int ScratchSize = 32 * 1024;

    public const int CommandStopAccepting = 1;
    public const int CommandAbortAll = 2;
    public const int CommandExit = 4;
    public const int CommandConfigChanged = 8;

    private static long s_connectionNumber;

    private readonly Reactor.Reactor _reactor;
    private readonly AccessLogBuffer? _accessLog;
    private readonly ILogger _logger;
    private readonly List<TcpSession> _ready = [];
    private readonly Stack<TcpSession> _free = new();
    private readonly List<TcpSession> _sessions = [];
    private readonly long _drainOnChangeMs;
    private readonly bool _logNeedsServerAddress;
    private int _active;

    public TcpWorker(int index, SnapshotHolder snapshots, AccessLogWriter? accessLog, ILogger logger, long drainOnChangeMs)
    {
        _reactor = new Reactor.Reactor(index);
        Snapshots = snapshots;
        _accessLog = accessLog?.CreateLoopBuffer();
        _logger = logger;
        _drainOnChangeMs = drainOnChangeMs;
        _logNeedsServerAddress = accessLog?.Format.Uses("server_addr") ?? false;
        Scratch = (byte*)NativeMemory.AlignedAlloc(ScratchSize, 4096);
        _acceptTimer = new AcceptTimer(this);
    }

    public int Index => _reactor.Index;

    public SnapshotHolder Snapshots { get; }

    /// <summary>
    /// Sessions this loop holds at most (nginx_config.event.worker_connections); at the cap it stops accepting.
    /// Set before <see cref="Start"/>, read only by the loop afterwards.
    /// </summary>
    public int MaxConnections { get; set; } = 1;

    /// <summary>Open sessions; read by other threads while shutting down.</summary>
    public int ActiveConnections => Volatile.Read(ref _active);

    public long Now => _reactor.Now;

    public TimerWheel Timers => _reactor.Timers;

    public byte* Scratch { get; }

    public bool Exited => _reactor.Exited;

    public bool Started => _reactor.Started;

    /// <summary>Raised on the loop's thread when the loop failed and stopped; its listeners are closed by then.</summary>
    public event Action<TcpWorker, string>? Failed;

    public void Start() => _reactor.Start(this, $"streamgate-loop-{Index}");

    public void Post(int command) => _reactor.Post(command);

    public void Join(TimeSpan timeout) => _reactor.Join(timeout);

    public uint NextGeneration() => _reactor.NextGeneration();

    public int Register(int fd, uint events, Pollable owner, int endpoint, uint generation) =>
        _reactor.Register(fd, events, owner, endpoint, generation);

    public bool HasDeferredWork => _ready.Count > 0;

    /// <summary>A session still has work after its turn's budget: it runs again before the loop sleeps.</summary>
    public void Defer(TcpSession session)
    {
        session.Queued = true;
        _ready.Add(session);
    }

    public void RunDeferred()
    {
        // Pump may defer a session again; take this turn's list first.
        var count = _ready.Count;
        for (var i = 0; i < count; i++)
        {
            var session = _ready[i];
            session.Queued = false;
            if (session.State == SessionState.Proxying)
            {
                session.Pump();
            }
        }
        _ready.RemoveRange(0, count);
    }

    public bool OnCommands(int commands)
    {
        if ((commands & CommandStopAccepting) != 0)
        {
            StopAccepting();
        }
        if ((commands & CommandAbortAll) != 0)
        {
            CloseAll();
        }
        if ((commands & CommandConfigChanged) != 0 && _drainOnChangeMs >= 0)
        {
            var snapshot = Snapshots.Current;
            foreach (var session in _sessions)
            {
                session.CheckStale(snapshot, _drainOnChangeMs);
            }
        }
        return (commands & CommandExit) != 0;
    }

    /// <summary>Access-log lines of this turn go to the writer in one hand-over, not one per line.</summary>
    public void OnTurnEnd() => _accessLog?.Flush();

    public void OnFailed(string error)
    {
        Log.LoopFailed(_logger, Index, error);
        CloseListeners();
        CloseAll();
        _accessLog?.Flush();
        Failed?.Invoke(this, error);
    }

    private void CloseAll()
    {
        foreach (var session in _sessions)
        {
            session.Close(200, reset: false);
        }
    }

    private TcpSession Rent()
    {
        if (!_free.TryPop(out var session))
        {
            session = new TcpSession(this);
            _reactor.Handles.Add(session);
            _sessions.Add(session);
        }
        Volatile.Write(ref _active, _active + 1);
        return session;
    }

    public void Return(TcpSession session)
    {
        _free.Push(session);
        Volatile.Write(ref _active, _active - 1);
        if (_pausedAtCap && _active < MaxConnections)
        {
            _pausedAtCap = false;
            ResumeAcceptingIfAllowed();
        }
    }

    public void LogSession(TcpSession session, int status, bool connected)
    {
        if (_accessLog is null)
        {
            return;
        }
        var record = new AccessLogRecord
        {
            RemoteAddress = session.Addresses.RemoteAddress,
            RemotePort = session.Addresses.RemotePort,
            ServerAddress = session.Addresses.ServerAddress,
            ServerPort = session.Addresses.ServerPort,
            Status = status,
            BytesSent = session.Down.BytesWritten,
            BytesReceived = session.Up.BytesRead,
            UpstreamBytesSent = session.Up.BytesWritten,
            UpstreamBytesReceived = session.Down.BytesRead,
            SessionSeconds = (Now - session.AcceptedAt) / 1000.0,
            UpstreamConnectSeconds = connected ? (session.ConnectedAt - session.AcceptedAt) / 1000.0 : 0,
            UpstreamAddress = session.Node?.DisplayAddress,
            RouteId = session.Route?.Id,
            ConnectionNumber = session.ConnectionNumber,
            EndUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        };
        _accessLog.Append(record);
    }

    private void LogUnrouted(in ConnectionAddresses addresses)
    {
        var record = new AccessLogRecord
        {
            RemoteAddress = addresses.RemoteAddress,
            RemotePort = addresses.RemotePort,
            ServerAddress = addresses.ServerAddress,
            ServerPort = addresses.ServerPort,
            Status = 404,
            ConnectionNumber = Interlocked.Increment(ref s_connectionNumber),
            EndUnixMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(),
        };
        _accessLog!.Append(record);
    }

    /// <summary>socket() for an upstream failed; logged at most once per interval with how many were suppressed.</summary>
    public void SocketFailed(int errno)
    {
        if (_socketFailures.ShouldLog(Now, out var suppressed))
        {
            Log.SocketFailed(_logger, TcpSession.ErrorText(errno), suppressed);
        }
    }

    public void RegistrationFailed(int errno)
    {
        if (_registrationFailures.ShouldLog(Now, out var suppressed))
        {
            Log.RegistrationFailed(_logger, TcpSession.ErrorText(errno), suppressed);
        }
    }

    /// <summary>A node whose host name has never resolved was picked: its connection attempt fails at once.</summary>
    public void NodeHasNoAddress(Upstreams.Upstream upstream, Upstreams.UpstreamNode node)
    {
        if (_unresolvedNodes.ShouldLog(Now, out var suppressed))
        {
            Log.NodeHasNoAddress(_logger, upstream.Id, node.Host, node.Port, node.AddressError ?? "the name has not resolved", suppressed);
        }
    }

    private RateLimit _unresolvedNodes;
    private RateLimit _socketFailures;
    private RateLimit _registrationFailures;
    private RateLimit _acceptFailures;
    private RateLimit _capReached;

    public void Dispose()
    {
        CloseListeners();
        _reactor.Dispose();
        NativeMemory.AlignedFree(Scratch);
    }
}

/// <summary>
/// At most one log line per interval for an event that can repeat per connection (socket() failing under
/// descriptor pressure): a flood of warnings would cost the loop more than the failures themselves.
/// </summary>
internal struct RateLimit
{
    private const long IntervalMs = 10_000;

    private long _next;
    private int _suppressed;

    public bool ShouldLog(long now, out int suppressed)
    {
        if (now < _next)
        {
            _suppressed++;
            suppressed = 0;
            return false;
        }
        _next = now + IntervalMs;
        suppressed = _suppressed;
        _suppressed = 0;
        return true;
    }
}
