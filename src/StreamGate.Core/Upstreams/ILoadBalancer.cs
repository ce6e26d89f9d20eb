using StreamGate.Routing;

namespace StreamGate.Upstreams;

/// <summary>
/// Chooses the node for one connection attempt among the nodes <paramref name="filter"/> does not exclude (tried
/// already, or unhealthy), honouring priority groups: a lower group only when the higher ones have no node left.
/// Returns -1 when no node is left. Implementations: round robin, chash, least_conn, ewma (<see cref="Balancers"/>).
/// </summary>
internal interface ILoadBalancer
{
    int Pick(in PickContext context, in NodeFilter filter);

    /// <summary>
    /// Null for balancers that learn nothing from outcomes (round robin, chash). least_conn and ewma return
    /// themselves, and the session then reports every attempt's outcome.
    /// </summary>
    IBalancerFeedback? Feedback { get; }
}

/// <summary>
/// Outcomes of connection attempts, reported by the event loop that made them. Every pick that returned a node is
/// followed by exactly one <see cref="Failed"/> or one <see cref="Released"/> (a connection that ended, or an attempt
/// abandoned because the client left); <see cref="Connected"/> comes before <see cref="Released"/> when it connected.
/// </summary>
internal interface IBalancerFeedback
{
    /// <summary>The node accepted the connection after <paramref name="connectMs"/> milliseconds.</summary>
    void Connected(int node, long connectMs, int loopIndex);

    /// <summary>The attempt failed (refused, timed out, reset before proxying); <paramref name="timedOut"/> says which.</summary>
    void Failed(int node, bool timedOut, int loopIndex);

    /// <summary>The picked node's connection (or attempt) has ended without a failure.</summary>
    void Released(int node, int loopIndex);
}

/// <summary>
/// Which nodes a pick must skip: those this connection tried already and, unless <c>ignoreHealth</c>, the ones health
/// checks marked unhealthy. <see cref="Upstream.Pick"/> asks once with health and, when every node is unhealthy,
/// once more without: an upstream whose checks all fail is tried anyway rather than refusing all traffic.
/// </summary>
internal readonly ref struct NodeFilter(ref readonly TriedNodes tried, Health.NodeHealth[]? health, bool ignoreHealth)
{
    private readonly ref readonly TriedNodes _tried = ref tried;

    public bool Excludes(int node) => _tried.Contains(node) || (!ignoreHealth && health is not null && !health[node].Healthy);
}

/// <summary>What a balancer may key on for one connection: its addresses, a hash key, and which loop asks.</summary>
internal readonly struct PickContext(in ConnectionAddresses addresses, int loopIndex, string? hashKey = null)
{
    public readonly ConnectionAddresses Addresses = addresses;

    /// <summary>The event loop picking: balancers keep per-loop state so a pick takes no lock (nginx without a zone).</summary>
    public readonly int LoopIndex = loopIndex;

    /// <summary>chash's key when it is not an address (a variable's value); null otherwise.</summary>
    public readonly string? HashKey = hashKey;
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
