using StreamGate.Routing;

namespace StreamGate.Upstreams;

/// <summary>
/// Chooses the node for one connection attempt among the nodes not tried yet. The seam later balancers
/// (chash, least_conn, ewma) and health checks plug into; returns -1 when no node is left.
/// </summary>
internal interface ILoadBalancer
{
    int Pick(in ConnectionAddresses connection, ref TriedNodes tried);
}

/// <summary>The addresses that identify a connection: what routes match on and hashing balancers key on.</summary>
internal readonly record struct ConnectionAddresses(IpAddr RemoteAddress, int RemotePort, IpAddr ServerAddress, int ServerPort);

/// <summary>The nodes one connection has already tried, so a retry goes elsewhere (nginx's "tried" bitmap).</summary>
internal struct TriedNodes
{
    private ulong _first64;
    private bool[]? _rest;

    public readonly bool Contains(int index) =>
        index < 64 ? (_first64 & (1UL << index)) != 0 : _rest is not null && _rest[index - 64];

    public void Add(int index, int nodeCount)
    {
        if (index < 64)
        {
            _first64 |= 1UL << index;
            return;
        }
        // Only upstreams of more than 64 nodes pay for this array, and only on a retry.
        _rest ??= new bool[nodeCount - 64];
        _rest[index - 64] = true;
    }

    public void Clear()
    {
        _first64 = 0;
        _rest = null;
    }
}
