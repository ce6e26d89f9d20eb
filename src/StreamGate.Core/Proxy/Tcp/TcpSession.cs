using System.Buffers;
using StreamGate.Proxy.Preread;
using StreamGate.Proxy.Reactor;
using StreamGate.Routing;
using StreamGate.Runtime;
using StreamGate.Upstreams;

namespace StreamGate.Proxy.Tcp;

/// <summary>Where a session is in its life. Every session passes them in this order, skipping what it does not need.</summary>
internal enum SessionState : byte
{
    /// <summary>In the worker's pool.</summary>
    Free,

    /// <summary>The client's socket is accepted and registered; nothing decided yet.</summary>
    Accepted,

    /// <summary>Preread hooks are reading the client's first bytes (listener level, then route level).</summary>
    Preread,

    /// <summary>A non-blocking connect to an upstream node is under way (retries stay in this state).</summary>
    Connecting,

    /// <summary>A transport on a socket (TLS) is shaking hands before bytes can flow.</summary>
    Handshaking,

    /// <summary>Bytes flow both ways.</summary>
    Proxying,

    /// <summary>Being torn down: sockets closed, hooks released, the access-log line written.</summary>
    Closing,
}

/// <summary>
/// One proxied connection: a state machine over two socket endpoints, owned by one worker (one thread) and
/// reused from the worker's pool, so nothing is allocated per connection once the pool has grown. An idle
/// session holds no buffer: bytes move through the worker's scratch buffer, and only a destination that refuses
/// part of a write (or a preread hook) makes the session rent one, returned as soon as it drains.
/// </summary>
internal sealed unsafe partial class TcpSession : Pollable
{
    public const int ClientEndpoint = 0;
    public const int UpstreamEndpoint = 1;

    private readonly TcpWorker _worker;

    public TcpSession(TcpWorker worker) => _worker = worker;

    public SessionState State { get; private set; }

    public SocketEndpoint ClientSocket { get; } = new();

    public SocketEndpoint UpstreamSocket { get; } = new();

    /// <summary>Client to upstream.</summary>
    public ref Flow Up => ref ClientSocket.Outbound;

    /// <summary>Upstream to client.</summary>
    public ref Flow Down => ref UpstreamSocket.Outbound;

    public ConnectionAddresses Addresses;

    /// <summary>The listener that accepted the client (its preread hooks run first).</summary>
    public ListenerSocket? Listener;

    /// <summary>
    /// The configuration version the route was matched in. The session keeps its route and upstream, not the
    /// snapshot: an old route table is not kept alive by a long-lived connection.
    /// </summary>
    public long ConfigVersion;

    public StreamRoute? Route;

    /// <summary>Where this connection goes: the route's upstream, or one a route-level hook (traffic-split) chose.</summary>
    public Upstream? Upstream;

    public UpstreamNode? Node;
    private int _nodeIndex;
    private TriedNodes _tried;
    private int _attempts;
    // A pick the upstream wants outcomes of (least_conn, ewma, health checks) and has not been told the end of.
    private bool _attemptOpen;
    // The client's transport finished its handshake (TLS termination): later stalls are the upstream's.
    private bool _clientHandshaken;

    public long ConnectionNumber;
    public long AcceptedAt;
    private long _firstConnectAt;
    private long _attemptStartedAt;
    public long ConnectedAt;

    /// <summary>Reactor time of the last read that returned bytes; the idle timer measures from it.</summary>
    private long _lastActivity;

    /// <summary>The current state's deadline (connect, preread, idle), 0 for none.</summary>
    private long _stateDeadline;

    /// <summary>When a configuration change made this session stale: closed at this time (0 = never).</summary>
    public long DrainDeadline { get; private set; }

    /// <summary>In the worker's list of sessions with work left over from a turn.</summary>
    public bool Queued;

    /// <summary>Takes over an accepted, registered client socket and moves it on (route, preread or connect).</summary>
    public void Start(ListenerSocket listener, StreamRoute? route, long configVersion)
    {
        State = SessionState.Accepted;
        Listener = listener;
        AcceptedAt = _worker.Now;
        _lastActivity = AcceptedAt;
        if (listener.PrereadHooks.Length > 0)
        {
            BeginPreread(PrereadStage.Listener, listener.PrereadHooks);
            return;
        }
        SetRoute(route!, configVersion);
        ContinueAfterRouting();
    }

    private void SetRoute(StreamRoute route, long version)
    {
        Route = route;
        Upstream = route.Upstream;
        ConfigVersion = version;
    }

    /// <summary>Route-level hooks, if any, then the upstream connection.</summary>
    private void ContinueAfterRouting()
    {
        if (Route!.PrereadHooks.Length > 0)
        {
            BeginPreread(PrereadStage.Route, Route.PrereadHooks);
            return;
        }
        StartConnect();
    }

    public override void OnReady(int endpoint, uint generation, uint events)
    {
        if (endpoint == ClientEndpoint)
        {
            if (ClientSocket.Generation != generation)
            {
                return;
            }
            ClientSocket.Apply(events);
        }
        else
        {
            if (UpstreamSocket.Generation != generation)
            {
                return;
            }
            UpstreamSocket.Apply(events);
        }
        switch (State)
        {
            case SessionState.Proxying:
                Pump();
                break;
            case SessionState.Connecting:
                OnConnectingEvent(endpoint, events);
                break;
            case SessionState.Preread:
                OnPrereadEvent();
                break;
            case SessionState.Handshaking:
                OnHandshakingEvent();
                break;
        }
    }

    /// <summary>
    /// A socket reported EPOLLERR: read SO_ERROR and, if the peer reset or the socket failed, close the session
    /// and pass a reset on. This is what catches a client's RST after its FIN, when nothing reads that socket
    /// any more and the reset would otherwise wait for the idle timeout. Returns true when it closed the session.
    /// </summary>
    private bool CloseOnSocketError()
    {
        if (ClientSocket.ErrorSeen)
        {
            ClientSocket.ErrorSeen = false;
            if (ClientSocket.TakeError() != 0)
            {
                Close(200, reset: true);
                return true;
            }
        }
        if (UpstreamSocket.ErrorSeen)
        {
            UpstreamSocket.ErrorSeen = false;
            if (UpstreamSocket.TakeError() != 0)
            {
                Close(502, reset: true);
                return true;
            }
        }
        return false;
    }

    /// <summary>One timer per session, armed for the earlier of the state's deadline and the drain deadline.</summary>
    public override void OnTimer(long now)
    {
        if (DrainDeadline != 0 && now >= DrainDeadline)
        {
            Close(200, reset: false);
            return;
        }
        if (_stateDeadline != 0 && now >= _stateDeadline)
        {
            switch (State)
            {
                case SessionState.Preread:
                    OnPrereadTimer();
                    break;
                case SessionState.Connecting:
                    OnConnectFailed(timedOut: true);
                    break;
                case SessionState.Handshaking:
                    OnHandshakeTimeout();
                    break;
                case SessionState.Proxying:
                    // Reads only stamp _lastActivity; the deadline moves here, lazily, not on every read.
                    var idleUntil = _lastActivity + Upstream!.IdleTimeoutMs;
                    if (now >= idleUntil)
                    {
                        Close(200, reset: false);
                        return;
                    }
                    _stateDeadline = idleUntil;
                    break;
            }
        }
        if (State is not (SessionState.Free or SessionState.Closing))
        {
            ArmTimer();
        }
    }

    private void SetStateDeadline(long deadline)
    {
        _stateDeadline = deadline;
        ArmTimer();
    }

    private void ArmTimer()
    {
        var deadline = _stateDeadline;
        if (DrainDeadline != 0 && (deadline == 0 || DrainDeadline < deadline))
        {
            deadline = DrainDeadline;
        }
        if (deadline == 0)
        {
            _worker.Timers.Cancel(this);
        }
        else if (!Armed || Deadline != deadline)
        {
            _worker.Timers.Schedule(this, deadline);
        }
    }

    /// <summary>
    /// beyond APISIX (apache/apisix#11619), with drain_on_change: after a configuration change, a session whose
    /// route was deleted, whose route now sends elsewhere, or whose node left its upstream is closed after the
    /// drain period. A node added to the upstream, or a changed timeout, leaves open sessions alone.
    /// </summary>
    public void CheckStale(RuntimeSnapshot snapshot, long drainMs)
    {
        if (Route is null || DrainDeadline != 0 || ConfigVersion == snapshot.Version || State is SessionState.Free or SessionState.Closing)
        {
            return;
        }
        ConfigVersion = snapshot.Version;
        var current = snapshot.Routes.FindById(Route.Id);
        bool stale;
        if (current is null)
        {
            stale = true;
        }
        else if (!ReferenceEquals(Upstream, Route.Upstream))
        {
            // A hook chose this upstream: only the route's removal drains it.
            stale = false;
        }
        else
        {
            stale = current.Upstream.Id != Upstream!.Id || (Node is not null && !current.Upstream.HasNode(Node));
        }
        if (stale)
        {
            DrainDeadline = _worker.Now + Math.Max(1, drainMs);
            ArmTimer();
        }
    }

    public void Close(int status, bool reset)
    {
        if (State is SessionState.Free or SessionState.Closing)
        {
            return;
        }
        var previous = State;
        State = SessionState.Closing;
        _worker.Timers.Cancel(this);
        ReturnPending(ref Up);
        ReturnPending(ref Down);
        ClientSocket.Close(reset);
        UpstreamSocket.Close(reset);
        ReleasePreread();
        if (_attemptOpen)
        {
            // Connected and ended, or abandoned mid-connect (the client left): the pick is released either way.
            _attemptOpen = false;
            Upstream!.Released(_nodeIndex, _worker.Index);
        }
        _worker.LogSession(this, status, connected: previous == SessionState.Proxying);
        Reset();
        _worker.Return(this);
    }

    private static void ReturnPending(ref Flow flow)
    {
        if (flow.Pending is not null)
        {
            ArrayPool<byte>.Shared.Return(flow.Pending);
            flow.Pending = null;
        }
    }

    private void Reset()
    {
        State = SessionState.Free;
        ClientSocket.Reset();
        UpstreamSocket.Reset();
        Listener = null;
        Route = null;
        Upstream = null;
        Node = null;
        _nodeIndex = -1;
        _tried.Clear();
        _attempts = 0;
        _attemptOpen = false;
        _clientHandshaken = false;
        _stateDeadline = 0;
        DrainDeadline = 0;
        ConfigVersion = 0;
        Queued = false;
    }
}
