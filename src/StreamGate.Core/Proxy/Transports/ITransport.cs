namespace StreamGate.Proxy.Transports;

/// <summary>What a transport asks for before it can go on.</summary>
internal enum TransportStatus
{
    Done,
    WantRead,
    WantWrite,
    Failed,
}

/// <summary>
/// How bytes cross one socket when they are not plain: TLS terminated or originated by the gateway. A plain
/// socket has no transport at all (<see cref="Tcp.SocketEndpoint.Transport"/> is null) and the session calls
/// recv/send directly, so the common case pays one null check, not an interface call per operation.
/// Results follow recv/send: a count, 0 for end of stream, -1 with the errno in <paramref name="errno"/>.
/// </summary>
internal unsafe interface ITransport
{
    /// <summary>Drives the handshake one step; the session calls it again when the socket is ready as asked.</summary>
    TransportStatus Handshake(int fd);

    nint Receive(int fd, byte* buffer, int length, out int errno);

    nint Send(int fd, byte* buffer, int length, out int errno);

    /// <summary>The socket is closed: free what the transport holds.</summary>
    void Release();
}
