using StreamGate.Proxy.Native;
using StreamGate.Proxy.Transports;

namespace StreamGate.Proxy.Tcp;

/// <summary>
/// One socket of a session and what epoll last said about it. Readiness is kept per socket, not per
/// direction, so each flow asks its source whether it is readable and its destination whether it is writable.
/// Edge-triggered: a flag is set by an event and cleared when a call would block.
/// </summary>
internal sealed unsafe class SocketEndpoint
{
    public int Fd = -1;

    /// <summary>The registration's generation; events carrying another one are for an earlier socket.</summary>
    public uint Generation;

    public bool Readable;
    public bool Writable;

    /// <summary>
    /// epoll reported the peer's FIN or an error (EPOLLRDHUP/HUP/ERR). No further edge will announce more data,
    /// so a short read no longer proves the socket drained: keep reading until recv returns 0 or EAGAIN.
    /// </summary>
    public bool HangupSeen;

    /// <summary>epoll reported EPOLLERR: SO_ERROR says what happened.</summary>
    public bool ErrorSeen;

    /// <summary>Where TCP_NODELAY stands; an upstream socket sets it only once it sends a second time.</summary>
    public NoDelay NoDelay;

    /// <summary>Null for a plain socket (recv/send straight to the kernel); TLS sets one.</summary>
    public ITransport? Transport;

    /// <summary>The bytes read from this socket on their way to the session's other socket.</summary>
    public Flow Outbound;

    public void Apply(uint events)
    {
        if ((events & (LibC.EPOLLIN | LibC.EPOLLRDHUP | LibC.EPOLLHUP | LibC.EPOLLERR)) != 0)
        {
            Readable = true;
        }
        if ((events & (LibC.EPOLLOUT | LibC.EPOLLHUP | LibC.EPOLLERR)) != 0)
        {
            Writable = true;
        }
        if ((events & (LibC.EPOLLRDHUP | LibC.EPOLLHUP | LibC.EPOLLERR)) != 0)
        {
            HangupSeen = true;
        }
        if ((events & LibC.EPOLLERR) != 0)
        {
            ErrorSeen = true;
        }
    }

    /// <summary>The socket's pending error (SO_ERROR), which reading also clears; 0 when there is none.</summary>
    public int TakeError()
    {
        var error = 0;
        var length = sizeof(int);
        return LibC.GetSockOpt(Fd, LibC.SOL_SOCKET, LibC.SO_ERROR, &error, &length) == 0 ? error : LibC.Errno;
    }

    public nint Receive(byte* buffer, int length, out int errno)
    {
        if (Transport is { } transport)
        {
            return transport.Receive(Fd, buffer, length, out errno);
        }
        var received = LibC.Recv(Fd, buffer, length, 0);
        errno = received < 0 ? LibC.Errno : 0;
        return received;
    }

    public nint Send(byte* buffer, int length, out int errno)
    {
        if (NoDelay != NoDelay.Set)
        {
            PrepareNoDelay();
        }
        if (Transport is { } transport)
        {
            return transport.Send(Fd, buffer, length, out errno);
        }
        var sent = LibC.Send(Fd, buffer, length, LibC.MSG_NOSIGNAL);
        errno = sent < 0 ? LibC.Errno : 0;
        return sent;
    }

    /// <summary>
    /// Nagle's algorithm holds a small segment back only while earlier data is unacknowledged, so a socket's
    /// first send leaves at once without TCP_NODELAY; setting the option just before the second send keeps
    /// every later one immediate too. A connection that sends once (one request, then FIN) saves the syscall.
    /// A transport's handshake writes through <see cref="ITransport.Handshake"/>, not here: whoever attaches one
    /// (TLS to upstreams) must set the option and <see cref="NoDelay.Set"/> before the handshake.
    /// </summary>
    private void PrepareNoDelay()
    {
        if (NoDelay == NoDelay.BeforeFirstSend)
        {
            NoDelay = NoDelay.BeforeNextSend;
            return;
        }
        _ = LibC.SetIntOption(Fd, LibC.IPPROTO_TCP, LibC.TCP_NODELAY, 1);
        NoDelay = NoDelay.Set;
    }

    /// <summary>Closes the socket; with <paramref name="reset"/> the peer gets RST instead of FIN.</summary>
    public void Close(bool reset)
    {
        if (Fd < 0)
        {
            return;
        }
        if (reset)
        {
            // SO_LINGER with a zero timeout makes close() send RST instead of FIN.
            var linger = new LibC.Linger { OnOff = 1, Seconds = 0 };
            _ = LibC.SetSockOpt(Fd, LibC.SOL_SOCKET, LibC.SO_LINGER, &linger, sizeof(LibC.Linger));
        }
        _ = LibC.Close(Fd);
        Transport?.Release();
        ClearSocket();
    }

    /// <summary>Forgets the socket, keeping <see cref="Outbound"/>'s counters for the access log.</summary>
    private void ClearSocket()
    {
        Fd = -1;
        Generation = 0;
        Readable = false;
        Writable = false;
        HangupSeen = false;
        ErrorSeen = false;
        Transport = null;
        NoDelay = NoDelay.Set;
    }

    /// <summary>Ready for the next session: no socket, an empty flow.</summary>
    public void Reset()
    {
        ClearSocket();
        Outbound = default;
    }
}

/// <summary>TCP_NODELAY on one socket: inherited from the listener (client side) or deferred (upstream side).</summary>
internal enum NoDelay : byte
{
    Set,
    BeforeFirstSend,
    BeforeNextSend,
}
