namespace StreamGate.Upstreams;

/// <summary>
/// What balancers learn about one node of one upstream: its active connections (least_conn) and its connect-time
/// average (ewma). Shared by every build of that upstream that keeps the node (<see cref="NodeStates"/>), so a
/// configuration change neither forgets the connections still open nor the latency learned.
/// </summary>
internal sealed class NodeState
{
    // One cache line per event loop: a loop counts its own connections with no lock and no line shared with
    // another core; a pick sums the slots. Loops beyond the slots share one with Interlocked (worker_processes > cores).
    private const int Stride = 16;
    private static readonly int s_slots = Math.Max(1, Environment.ProcessorCount);
    private readonly int[] _active = new int[s_slots * Stride];

    // ewma's connect-time average and the time of its last update, one word so that loops updating it at once
    // never pair one's average with the other's time (the packing is EwmaBalancer's). 0 = no sample yet.
    private long _connectTime;

    /// <summary>Connections picked for this node and not yet released, across all loops.</summary>
    public int Active
    {
        get
        {
            var sum = 0;
            for (var i = 0; i < _active.Length; i += Stride)
            {
                sum += Volatile.Read(ref _active[i]);
            }
            return sum;
        }
    }

    public void Acquire(int loopIndex) => Interlocked.Increment(ref _active[loopIndex % s_slots * Stride]);

    public void Release(int loopIndex) => Interlocked.Decrement(ref _active[loopIndex % s_slots * Stride]);

    /// <summary>ewma's packed connect-time average (see <see cref="EwmaBalancer"/>); 0 before the first sample.</summary>
    public long ConnectTime => Volatile.Read(ref _connectTime);

    /// <summary>Replaces the packed average if it is still <paramref name="expected"/>: false when another loop got there first.</summary>
    public bool TryUpdateConnectTime(long expected, long value) =>
        Interlocked.CompareExchange(ref _connectTime, value, expected) == expected;
}

/// <summary>
/// The builder's memory of upstreams across builds: each node's <see cref="NodeState"/> by (upstream id, host,
/// port), and the last build of each upstream, whose balancer a rebuild continues from (round robin's scores).
/// </summary>
internal sealed class NodeStates
{
    private readonly Lock _lock = new();
    private Dictionary<(string Upstream, string Host, int Port), NodeState> _states = [];
    private Dictionary<string, Upstream> _last = new(StringComparer.Ordinal);

    public NodeState Get(string upstreamId, string host, int port)
    {
        lock (_lock)
        {
            var key = (upstreamId, host, port);
            if (!_states.TryGetValue(key, out var state))
            {
                state = new NodeState();
                _states[key] = state;
            }
            return state;
        }
    }

    /// <summary>The previous build of the upstream with this id, if it is still remembered.</summary>
    public Upstream? Last(string upstreamId)
    {
        lock (_lock)
        {
            return _last.GetValueOrDefault(upstreamId);
        }
    }

    /// <summary>Remembers the upstreams of the snapshot just built and forgets the rest (connections keep their own references).</summary>
    public void Retain(IEnumerable<Upstream> upstreams)
    {
        var states = new Dictionary<(string, string, int), NodeState>();
        var last = new Dictionary<string, Upstream>(StringComparer.Ordinal);
        foreach (var upstream in upstreams)
        {
            last[upstream.Id] = upstream;
            for (var i = 0; i < upstream.Nodes.Length; i++)
            {
                var node = upstream.Nodes[i];
                states[(upstream.Id, node.Host, node.Port)] = upstream.States[i];
            }
        }
        lock (_lock)
        {
            _states = states;
            _last = last;
        }
    }
}
