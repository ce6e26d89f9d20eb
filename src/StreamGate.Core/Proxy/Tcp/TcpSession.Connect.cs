using System.Runtime.InteropServices;
using StreamGate.Proxy.Native;
using StreamGate.Proxy.Transports;
using StreamGate.Upstreams;

namespace StreamGate.Proxy.Tcp;

internal sealed unsafe partial class TcpSession
{
    // Registered once for everything, edge-triggered: readiness then costs no epoll_ctl calls.
    public const uint SocketEvents = LibC.EPOLLIN | LibC.EPOLLOUT | LibC.EPOLLRDHUP | LibC.EPOLLET;

    /// <summary>Starts a non-blocking connect to the next node the balancer gives; completion arrives as EPOLLOUT.</summary>
    private void StartConnect()
    {
        State = SessionState.Connecting;
        if (_attempts == 0)
        {
            _firstConnectAt = _worker.Now;
        }
        var upstream = Upstream!;
        while (true)
        {
            var index = upstream.Pick(new PickContext(Addresses, _worker.Index), in _tried);
            if (index < 0)
            {
                Close(502, reset: false);
                return;
            }
            _tried.Add(index, upstream.Nodes.Length);
            _attempts++;
            _attemptOpen = upstream.WantsFeedback;
            var node = upstream.Nodes[index];
            Node = node;
            _nodeIndex = index;
            _attemptStartedAt = _worker.Now;
            if (node.Address is not null)
            {
                var fd = LibC.Socket(node.Family, LibC.SOCK_STREAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0);
                if (fd < 0)
                {
                    // Out of descriptors or memory: no other node would do better.
                    _worker.SocketFailed(LibC.Errno);
                    Close(502, reset: false);
                    return;
                }
                int result;
                fixed (byte* address = node.SocketAddress)
                {
                    result = LibC.Connect(fd, address, node.SocketAddressLength);
                }
                if (result == 0 || LibC.Errno == LibC.EINPROGRESS)
                {
                    var generation = _worker.NextGeneration();
                    var error = _worker.Register(fd, SocketEvents, this, UpstreamEndpoint, generation);
                    if (error != 0)
                    {
                        _ = LibC.Close(fd);
                        _worker.RegistrationFailed(error);
                        Close(502, reset: false);
                        return;
                    }
                    UpstreamSocket.Fd = fd;
                    UpstreamSocket.Generation = generation;
                    UpstreamSocket.NoDelay = NoDelay.BeforeFirstSend;
                    SetStateDeadline(_worker.Now + upstream.ConnectTimeoutMs);
                    return;
                }
                _ = LibC.Close(fd);
            }
            else
            {
                _worker.NodeHasNoAddress(upstream, node);
            }
            ReportFailed(timedOut: false);
            if (!CanRetry())
            {
                Close(502, reset: false);
                return;
            }
        }
    }

    /// <summary>Tells the upstream (balancer feedback, passive health) that the open attempt failed; at most once per pick.</summary>
    private void ReportFailed(bool timedOut)
    {
        if (_attemptOpen)
        {
            _attemptOpen = false;
            Upstream!.Failed(_nodeIndex, timedOut, _worker.Index);
        }
    }

    private bool CanRetry()
    {
        var upstream = Upstream!;
        return _attempts <= upstream.Retries &&
            (upstream.RetryTimeoutMs == 0 || _worker.Now - _firstConnectAt < upstream.RetryTimeoutMs);
    }

    private void OnConnectingEvent(int endpoint, uint events)
    {
        if (endpoint == ClientEndpoint)
        {
            // The client went away while its upstream connection was still being made.
            if (ClientSocket.ErrorSeen)
            {
                Close(200, reset: true);
            }
            return;
        }
        if ((events & (LibC.EPOLLOUT | LibC.EPOLLERR | LibC.EPOLLHUP)) == 0)
        {
            return;
        }
        // A failed connect always raises EPOLLERR (the socket's sk_err is set), so writable without an error
        // means connected; only the error case needs SO_ERROR, which also clears it.
        if ((events & (LibC.EPOLLERR | LibC.EPOLLHUP)) != 0)
        {
            UpstreamSocket.ErrorSeen = false;
            _ = UpstreamSocket.TakeError();
            OnConnectFailed(timedOut: false);
            return;
        }
        OnUpstreamConnected();
    }

    private void OnConnectFailed(bool timedOut)
    {
        ReportFailed(timedOut);
        UpstreamSocket.Close(reset: false);
        if (CanRetry())
        {
            StartConnect();
        }
        else
        {
            Close(502, reset: false);
        }
    }

    private void OnUpstreamConnected()
    {
        ConnectedAt = _worker.Now;
        _lastActivity = ConnectedAt;
        if (_attemptOpen)
        {
            Upstream!.Connected(_nodeIndex, ConnectedAt - _attemptStartedAt, _worker.Index);
        }
        if (UpstreamSocket.Transport is not null || ClientSocket.Transport is not null)
        {
            State = SessionState.Handshaking;
            OnHandshakingEvent();
            return;
        }
        BeginProxying();
    }

    /// <summary>Drives the transports' handshakes (TLS) until both are done; the connect deadline still applies.</summary>
    private void OnHandshakingEvent()
    {
        if (!_clientHandshaken)
        {
            if (!Handshake(ClientSocket))
            {
                return;
            }
            _clientHandshaken = true;
        }
        if (!Handshake(UpstreamSocket))
        {
            return;
        }
        BeginProxying();
    }

    /// <summary>
    /// The connect deadline passed during the handshakes: a client that stalls its own handshake is the client's
    /// doing (closed, nothing held against the node); an upstream that stalls its handshake failed the attempt.
    /// </summary>
    private void OnHandshakeTimeout()
    {
        if (_clientHandshaken)
        {
            OnConnectFailed(timedOut: true);
        }
        else
        {
            Close(400, reset: false);
        }
    }

    /// <summary>True when the endpoint's handshake is finished; false when it waits for readiness or failed.</summary>
    private bool Handshake(SocketEndpoint endpoint)
    {
        if (endpoint.Transport is not { } transport)
        {
            return true;
        }
        switch (transport.Handshake(endpoint.Fd))
        {
            case TransportStatus.Done:
                return true;
            case TransportStatus.WantRead:
                endpoint.Readable = false;
                return false;
            case TransportStatus.WantWrite:
                endpoint.Writable = false;
                return false;
            default:
                if (endpoint == ClientSocket)
                {
                    Close(400, reset: true);
                }
                else
                {
                    // Nothing was forwarded yet: like a refused connect, a failed upstream handshake tries the next node.
                    OnConnectFailed(timedOut: false);
                }
                return false;
        }
    }

    private void BeginProxying()
    {
        State = SessionState.Proxying;
        UpstreamSocket.Writable = true;
        SetStateDeadline(_lastActivity + Upstream!.IdleTimeoutMs);
        Pump();
    }

    /// <summary>Text of an errno for logs, off the per-byte path.</summary>
    internal static string ErrorText(int errno) => $"{Marshal.GetPInvokeErrorMessage(errno)} (errno {errno})";
}
