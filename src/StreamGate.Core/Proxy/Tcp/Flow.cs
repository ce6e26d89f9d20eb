namespace StreamGate.Proxy.Tcp;

/// <summary>
/// One direction of a session: bytes read from <see cref="Source"/> and written to <see cref="Destination"/>.
/// Readiness is the endpoints'; the flow keeps only what belongs to the direction: end of stream, the bytes
/// the destination has not taken yet, and counters.
/// </summary>
internal sealed class Flow(SocketEndpoint source, SocketEndpoint destination)
{
    public SocketEndpoint Source { get; } = source;

    public SocketEndpoint Destination { get; } = destination;

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

    public bool Finished => SourceEnded && DestinationShut && PendingCount == 0;

    public void Reset()
    {
        SourceEnded = false;
        DestinationShut = false;
        Pending = null;
        PendingOffset = 0;
        PendingCount = 0;
        BytesRead = 0;
        BytesWritten = 0;
    }
}
