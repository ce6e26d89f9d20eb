using StreamGate.Routing;
using StreamGate.Runtime;
using StreamGate.Upstreams;

namespace StreamGate.Proxy.Tcp;

internal enum ConnectionState : byte
{
    Free,
    Connecting,
    Proxying,
}

/// <summary>
/// One proxied connection's state, owned by a single event loop and reused from the loop's slot table
/// (nothing is allocated per connection once the table has grown). An idle connection holds no buffer:
/// bytes live in the loop's scratch buffer, and only a destination that refuses part of a write makes
/// the connection rent a buffer for the remainder, returned as soon as it drains.
/// </summary>
internal sealed class TcpConnection
{
    public TcpConnection(int slot)
    {
        Slot = slot;
    }

    public int Slot { get; }

    public ConnectionState State;
    public int ClientFd = -1;
    public int UpstreamFd = -1;

    /// <summary>Tags in the epoll data of each registration, so an event queued for a closed socket is recognised as stale.</summary>
    public uint ClientTag;
    public uint UpstreamTag;

    /// <summary>Client to upstream.</summary>
    public readonly Flow Up = new();

    /// <summary>Upstream to client.</summary>
    public readonly Flow Down = new();

    public ConnectionAddresses Addresses;
    public RuntimeSnapshot? Snapshot;
    public StreamRoute? Route;
    public UpstreamNode? Node;
    public TriedNodes Tried;
    public int Attempts;
    public long ConnectionNumber;

    public long AcceptedAt;
    public long FirstConnectAt;
    public long ConnectedAt;
    public long ConnectDeadline;
    public long LastActivity;

    /// <summary>Bytes read in both directions when the idle sweep last looked.</summary>
    public long ActivityMark;

    /// <summary>When a configuration change made this connection's route or upstream stale: close it at this time (0 = never).</summary>
    public long DrainDeadline;

    /// <summary>In the loop's list of connections with work left over from a turn.</summary>
    public bool Queued;

    public void Reset()
    {
        State = ConnectionState.Free;
        ClientFd = -1;
        UpstreamFd = -1;
        ClientTag = 0;
        UpstreamTag = 0;
        Up.Reset();
        Down.Reset();
        Snapshot = null;
        Route = null;
        Node = null;
        Tried.Clear();
        Attempts = 0;
        ActivityMark = 0;
        DrainDeadline = 0;
        Queued = false;
    }
}

/// <summary>One direction of a connection: bytes read from a source socket and written to a destination.</summary>
internal sealed class Flow
{
    /// <summary>Edge-triggered readiness: set by epoll, cleared when a call would block.</summary>
    public bool SourceReadable;
    public bool DestinationWritable;

    /// <summary>
    /// epoll reported the source's FIN or an error (EPOLLRDHUP/HUP/ERR). No further edge will announce it, so a
    /// short read no longer proves the socket drained: keep reading until recv returns 0 or EAGAIN.
    /// </summary>
    public bool SourceHangup;

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
        SourceReadable = false;
        DestinationWritable = false;
        SourceEnded = false;
        SourceHangup = false;
        DestinationShut = false;
        Pending = null;
        PendingOffset = 0;
        PendingCount = 0;
        BytesRead = 0;
        BytesWritten = 0;
    }
}
