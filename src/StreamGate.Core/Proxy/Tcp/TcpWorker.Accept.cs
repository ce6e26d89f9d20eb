using StreamGate.Proxy.Native;
using StreamGate.Proxy.Reactor;
using StreamGate.Routing;
using StreamGate.Upstreams;

namespace StreamGate.Proxy.Tcp;

internal sealed unsafe partial class TcpWorker
{
    private const int AcceptsPerTurn = 64;
    private const int FirstBackoffMs = 100;
    private const int MaxBackoffMs = 5000;

    private readonly List<ListenerSocket> _listeners = [];
    private readonly TimerEntry _acceptTimer;

    // Why listeners are out of epoll: at the connection cap (until a session ends), after accept ran out of
    // resources (until the back-off timer), or for good once shutdown began.
    private bool _pausedAtCap;
    private bool _pausedForBackoff;
    private bool _listenersRegistered;
    private bool _stopping;
    private volatile bool _stoppedAccepting;
    private int _backoffMs;

    public void AddListener(ListenerSocket listener)
    {
        listener.Worker = this;
        _reactor.Handles.Add(listener);
        _listeners.Add(listener);
        var error = RegisterListener(listener);
        if (error != 0)
        {
            throw new IOException($"epoll_ctl failed for listener {listener.Entry}: {TcpSession.ErrorText(error)}");
        }
        _listenersRegistered = true;
    }

    private int RegisterListener(ListenerSocket listener) =>
        listener.Fd < 0 ? 0 : _reactor.Register(listener.Fd, LibC.EPOLLIN, listener, 0, 0);

    /// <summary>Accepts what the listener's backlog holds, up to a budget per turn; called on readiness.</summary>
    public void Accept(ListenerSocket listener)
    {
        // One turn's events may name several listeners after the first one paused them all.
        if (!_listenersRegistered && !_stopping)
        {
            return;
        }
        var address = stackalloc byte[SockAddr.MaxLength];
        for (var i = 0; i < AcceptsPerTurn || _stopping; i++)
        {
            if (_active >= MaxConnections && !_stopping)
            {
                _pausedAtCap = true;
                PauseAccepting();
                if (_capReached.ShouldLog(Now, out var skipped))
                {
                    Log.AtConnectionCap(_logger, Index, MaxConnections, skipped);
                }
                return;
            }
            var length = SockAddr.MaxLength;
            var injected = FaultInjection.FailAccept();
            var fd = injected ? -1 : LibC.Accept4(listener.Fd, address, &length, LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC);
            if (fd < 0)
            {
                var errno = injected ? LibC.EMFILE : LibC.Errno;
                switch (errno)
                {
                    case LibC.EAGAIN:
                        _backoffMs = 0;
                        return;
                    case LibC.EINTR or LibC.ECONNABORTED:
                        continue;
                    case LibC.EMFILE or LibC.ENFILE or LibC.ENOBUFS or LibC.ENOMEM:
                        if (!_stopping)
                        {
                            BackOff(errno);
                        }
                        return;
                    default:
                        if (_acceptFailures.ShouldLog(Now, out var suppressed))
                        {
                            Log.AcceptFailed(_logger, listener.Entry.ToString(), TcpSession.ErrorText(errno), suppressed);
                        }
                        return;
                }
            }
            SockAddr.Decode(new ReadOnlySpan<byte>(address, length), out var remoteAddress, out var remotePort);
            OnAccepted(fd, listener, remoteAddress, remotePort, address);
        }
    }

    private void OnAccepted(int fd, ListenerSocket listener, IpAddr remoteAddress, int remotePort, byte* scratchAddress)
    {
        var snapshot = Snapshots.Current;
        var serverAddress = listener.BoundAddress ?? default;
        if (listener.BoundAddress is null && (snapshot.Routes.UsesServerAddress || _logNeedsServerAddress || listener.PrereadHooks.Length > 0))
        {
            // A wildcard listener: the address the client reached is known only per connection, and costs a
            // syscall, so it is asked only when a route or the access log uses it.
            var length = SockAddr.MaxLength;
            if (LibC.GetSockName(fd, scratchAddress, &length) == 0)
            {
                SockAddr.Decode(new ReadOnlySpan<byte>(scratchAddress, length), out serverAddress, out _);
            }
        }
        var addresses = new ConnectionAddresses(remoteAddress, remotePort, serverAddress, listener.Entry.Port);
        StreamRoute? route = null;
        if (listener.PrereadHooks.Length == 0)
        {
            route = snapshot.Routes.Match(addresses);
            if (route is null)
            {
                // No route: close without sending a byte, as APISIX does.
                _ = LibC.Close(fd);
                if (_accessLog is not null)
                {
                    LogUnrouted(addresses);
                }
                return;
            }
        }
        var generation = NextGeneration();
        var error = FaultInjection.FailRegistration()
            ? LibC.ENOMEM
            : Register(fd, TcpSession.SocketEvents, PeekSession(), TcpSession.ClientEndpoint, generation);
        if (error != 0)
        {
            // A failed connection, not a failed loop: the client sees the connection closed.
            _ = LibC.Close(fd);
            RegistrationFailed(error);
            return;
        }
        var session = Rent();
        session.ClientSocket.Fd = fd;
        session.ClientSocket.Generation = generation;
        session.Addresses = addresses;
        // $connection exists only for the access log; without one, no counter shared between the loops' cores.
        session.ConnectionNumber = _accessLog is null ? 0 : Interlocked.Increment(ref s_connectionNumber);
        session.Start(listener, route, snapshot.Version);
    }

    /// <summary>The session <see cref="Rent"/> will hand out next, so its handle can go into the registration first.</summary>
    private TcpSession PeekSession()
    {
        if (_free.TryPeek(out var session))
        {
            return session;
        }
        session = new TcpSession(this);
        _reactor.Handles.Add(session);
        _sessions.Add(session);
        _free.Push(session);
        return session;
    }

    /// <summary>Resource pressure: one back-off per loop, 100 ms doubling to 5 s (Garnet's tiers), listeners out of epoll meanwhile.</summary>
    private void BackOff(int errno)
    {
        _backoffMs = Math.Clamp(_backoffMs * 2, FirstBackoffMs, MaxBackoffMs);
        _pausedForBackoff = true;
        PauseAccepting();
        _reactor.Timers.Schedule(_acceptTimer, Now + _backoffMs);
        Log.AcceptPaused(_logger, Index, TcpSession.ErrorText(errno), _backoffMs);
    }

    private void PauseAccepting()
    {
        if (!_listenersRegistered)
        {
            return;
        }
        foreach (var listener in _listeners)
        {
            if (listener.Fd >= 0)
            {
                _reactor.Unregister(listener.Fd);
            }
        }
        _listenersRegistered = false;
    }

    private void ResumeAcceptingIfAllowed()
    {
        if (_listenersRegistered || _pausedAtCap || _pausedForBackoff || _stopping)
        {
            return;
        }
        foreach (var listener in _listeners)
        {
            var error = RegisterListener(listener);
            if (error != 0)
            {
                // Out of memory for epoll: try again later rather than never accept again.
                Log.ResumeFailed(_logger, Index, TcpSession.ErrorText(error));
                foreach (var registered in _listeners)
                {
                    if (registered.Fd >= 0)
                    {
                        _reactor.Unregister(registered.Fd);
                    }
                }
                _pausedForBackoff = true;
                _reactor.Timers.Schedule(_acceptTimer, Now + MaxBackoffMs);
                return;
            }
        }
        _listenersRegistered = true;
    }

    /// <summary>Every listener of this loop is closed (shutdown began or the loop failed).</summary>
    public bool StoppedAccepting => _stoppedAccepting;

    private void OnAcceptTimer()
    {
        _pausedForBackoff = false;
        ResumeAcceptingIfAllowed();
    }

    /// <summary>
    /// Shutdown: take every connection already waiting in the backlogs (closing a SO_REUSEPORT listener resets
    /// them, as the kernel does not hand them to the other sockets), then close the listeners for good.
    /// </summary>
    private void StopAccepting()
    {
        if (_stopping)
        {
            return;
        }
        _stopping = true;
        _reactor.Timers.Cancel(_acceptTimer);
        foreach (var listener in _listeners)
        {
            if (listener.Fd >= 0)
            {
                Accept(listener);
            }
        }
        CloseListeners();
    }

    private void CloseListeners()
    {
        foreach (var listener in _listeners)
        {
            listener.Close();
        }
        _listenersRegistered = false;
        _stoppedAccepting = true;
    }

    private sealed class AcceptTimer(TcpWorker worker) : TimerEntry
    {
        public override void OnTimer(long now) => worker.OnAcceptTimer();
    }
}
