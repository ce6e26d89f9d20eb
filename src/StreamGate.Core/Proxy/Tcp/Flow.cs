namespace StreamGate.Proxy.Tcp;

/// <summary>
/// One direction of a session: the bytes read from one socket on their way to the other. It lives inside its
/// source endpoint (<see cref="SocketEndpoint.Outbound"/>), as a struct, so a session is three objects, not
/// five. Readiness is the endpoints'; the flow keeps only what belongs to the direction: end of stream, the
/// bytes the destination has not taken yet, and counters.
/// </summary>
internal struct Flow
{
    /// <summary>The source has sent FIN (read returned 0).</summary>
    public bool SourceEnded;

    /// <summary>FIN passed on to the destination (shutdown(SHUT_WR)).</summary>
    public bool DestinationShut;

    /// <summary>Bytes the destination did not take yet; the source is not read while any remain (backpressure).</summary>
    public byte[]? Pending;
    public int PendingOffset;
    public int PendingCount;

    public long BytesRead;
    public long BytesWritten;

    public readonly bool Finished => SourceEnded && DestinationShut && PendingCount == 0;
}
