using System.Runtime.InteropServices;
using StreamGate.Proxy.Native;
using StreamGate.Upstreams;

namespace StreamGate.Proxy.Tcp;

internal sealed unsafe partial class EventLoop
{
    private void Accept(ListenerSocket listener)
    {
        var address = stackalloc byte[SockAddr.MaxLength];
        for (var i = 0; i < AcceptsPerTurn; i++)
        {
            var length = SockAddr.MaxLength;
            var fd = LibC.Accept4(listener.Fd, address, &length, LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC);
            if (fd < 0)
            {
                var errno = LibC.Errno;
                switch (errno)
                {
                    case LibC.EAGAIN:
                        _acceptBackoffMs = 0;
                        return;
                    case LibC.EINTR or LibC.ECONNABORTED:
                        continue;
                    case LibC.EMFILE or LibC.ENFILE or LibC.ENOBUFS or LibC.ENOMEM:
                        // Resource pressure: stop accepting for a while instead of spinning on a listener that
                        // stays readable; back off 100 ms doubling to 5 s, as Garnet's accept loop does.
                        _acceptBackoffMs = Math.Clamp(_acceptBackoffMs * 2, 100, 5000);
                        PauseListeners();
                        Log.AcceptPaused(_logger, Marshal.GetPInvokeErrorMessage(errno), _acceptBackoffMs);
                        return;
                    default:
                        Log.AcceptFailed(_logger, listener.Entry.ToString(), Marshal.GetPInvokeErrorMessage(errno));
                        return;
                }
            }
            SockAddr.Decode(new ReadOnlySpan<byte>(address, length), out var remoteAddress, out var remotePort);
            var serverAddress = listener.BoundAddress;
            if (serverAddress is null)
            {
                // A wildcard listener: the address the client reached is only known per connection.
                length = SockAddr.MaxLength;
                if (LibC.GetSockName(fd, address, &length) == 0)
                {
                    SockAddr.Decode(new ReadOnlySpan<byte>(address, length), out var local, out _);
                    serverAddress = local;
                }
            }
            OnAccepted(fd, new ConnectionAddresses(remoteAddress, remotePort, serverAddress ?? default, listener.Entry.Port));
        }
    }

    private void PauseListeners()
    {
        foreach (var listener in _listeners)
        {
            if (listener.Fd >= 0)
            {
                _ = LibC.EpollCtl(_epoll, LibC.EPOLL_CTL_DEL, listener.Fd, null);
            }
        }
        _listenersPausedUntil = _now + _acceptBackoffMs;
    }

    private void ResumeListeners()
    {
        _listenersPausedUntil = 0;
        for (var i = 0; i < _listeners.Count; i++)
        {
            if (_listeners[i].Fd >= 0)
            {
                Register(_listeners[i].Fd, LibC.EPOLLIN, Data(KindListener, 0, (uint)i));
            }
        }
    }

    private void OnAccepted(int fd, in ConnectionAddresses addresses)
    {
        var snapshot = _snapshots.Current;
        var route = snapshot.Routes.Match(addresses);
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
        var c = RentConnection();
        c.ClientFd = fd;
        c.ClientTag = NextTag();
        c.Addresses = addresses;
        c.Snapshot = snapshot;
        c.Route = route;
        // $connection exists only for the access log; without one, no counter shared between the loops' cores.
        c.ConnectionNumber = _accessLog is null ? 0 : Interlocked.Increment(ref s_connectionNumber);
        c.AcceptedAt = _now;
        c.FirstConnectAt = _now;
        c.LastActivity = _now;
        c.State = ConnectionState.Connecting;
        _ = LibC.SetIntOption(fd, LibC.IPPROTO_TCP, LibC.TCP_NODELAY, 1);
        Register(fd, LibC.EPOLLIN | LibC.EPOLLOUT | LibC.EPOLLRDHUP | LibC.EPOLLET, Data(KindClient, c.ClientTag, (uint)c.Slot));
        StartConnect(c);
    }

    /// <summary>Starts a non-blocking connect to the next node the balancer gives; completion arrives as EPOLLOUT.</summary>
    private void StartConnect(TcpConnection c)
    {
        var upstream = c.Route!.Upstream;
        while (true)
        {
            var index = upstream.Balancer.Pick(c.Addresses, ref c.Tried);
            if (index < 0)
            {
                Close(c, 502, reset: false);
                return;
            }
            c.Tried.Add(index, upstream.Nodes.Length);
            c.Attempts++;
            var node = upstream.Nodes[index];
            c.Node = node;
            if (node.Address is not null)
            {
                var fd = LibC.Socket(node.Family, LibC.SOCK_STREAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0);
                if (fd < 0)
                {
                    Log.SocketFailed(_logger, Marshal.GetPInvokeErrorMessage(LibC.Errno));
                    Close(c, 502, reset: false);
                    return;
                }
                _ = LibC.SetIntOption(fd, LibC.IPPROTO_TCP, LibC.TCP_NODELAY, 1);
                int result;
                fixed (byte* address = node.SocketAddress)
                {
                    result = LibC.Connect(fd, address, node.SocketAddressLength);
                }
                if (result == 0 || LibC.Errno == LibC.EINPROGRESS)
                {
                    c.UpstreamFd = fd;
                    c.UpstreamTag = NextTag();
                    c.ConnectDeadline = _now + upstream.ConnectTimeoutMs;
                    // Registered once for everything; an already-connected socket reports EPOLLOUT at once.
                    Register(fd, LibC.EPOLLIN | LibC.EPOLLOUT | LibC.EPOLLRDHUP | LibC.EPOLLET, Data(KindUpstream, c.UpstreamTag, (uint)c.Slot));
                    return;
                }
                _ = LibC.Close(fd);
            }
            if (!CanRetry(c))
            {
                Close(c, 502, reset: false);
                return;
            }
        }
    }

    private bool CanRetry(TcpConnection c)
    {
        var upstream = c.Route!.Upstream;
        return c.Attempts <= upstream.Retries &&
            (upstream.RetryTimeoutMs == 0 || _now - c.FirstConnectAt < upstream.RetryTimeoutMs);
    }

    private void OnConnectFailed(TcpConnection c)
    {
        _ = LibC.Close(c.UpstreamFd);
        c.UpstreamFd = -1;
        c.UpstreamTag = 0;
        if (CanRetry(c))
        {
            StartConnect(c);
        }
        else
        {
            Close(c, 502, reset: false);
        }
    }

    private void OnUpstreamConnected(TcpConnection c, uint events)
    {
        c.State = ConnectionState.Proxying;
        c.ConnectedAt = _now;
        c.LastActivity = _now;
        c.Up.DestinationWritable = true;
        c.Down.SourceReadable = (events & (LibC.EPOLLIN | LibC.EPOLLRDHUP | LibC.EPOLLHUP)) != 0;
        c.Down.SourceHangup = (events & (LibC.EPOLLRDHUP | LibC.EPOLLHUP)) != 0;
        Pump(c);
    }

    private uint NextTag()
    {
        // Zero marks "no registration"; skip it when the counter wraps.
        if (++_nextTag == 0)
        {
            _nextTag = 1;
        }
        return _nextTag;
    }

    private TcpConnection RentConnection()
    {
        TcpConnection c;
        if (_freeSlots.TryPop(out var slot))
        {
            c = _slots[slot];
        }
        else
        {
            if (_slotCount == _slots.Length)
            {
                Array.Resize(ref _slots, _slots.Length * 2);
            }
            c = new TcpConnection(_slotCount);
            _slots[_slotCount++] = c;
        }
        Volatile.Write(ref _active, _active + 1);
        return c;
    }

    private void ReturnConnection(TcpConnection c)
    {
        c.Reset();
        _freeSlots.Push(c.Slot);
        Volatile.Write(ref _active, _active - 1);
    }
}
