namespace StreamGate.Upstreams;

/// <summary>
/// nginx's smooth weighted round robin (ngx_http_upstream_round_robin.c's algorithm): each pick adds every
/// eligible node's weight to its running score, takes the highest and subtracts the total from it, spreading
/// picks evenly (weights 5,1,1 give a a b a c a a, not a a a a a b c). Nodes form priority groups: a lower
/// group is used only when every node of the higher ones has been tried for this connection, as APISIX does.
/// Each event loop keeps its own scores, as each nginx worker does without a shared zone: a pick takes no lock
/// and shares no cache line with another core, and each loop's sequence is smooth on its own. A rebuild of the
/// upstream continues from the previous build's scores for the nodes it keeps, so a change does not restart it.
/// </summary>
internal sealed class RoundRobinBalancer : ILoadBalancer
{
    private readonly int[][] _groups;
    private readonly int[] _weights;
    private readonly UpstreamNode[] _nodes;

    // Scores per loop index, created by that loop on its first pick; only that loop reads or writes its array.
    private long[]?[] _scores = new long[]?[Environment.ProcessorCount];
    private readonly Lock _grow = new();

    public RoundRobinBalancer(UpstreamNode[] nodes, RoundRobinBalancer? previous = null)
    {
        _nodes = nodes;
        _weights = new int[nodes.Length];
        for (var i = 0; i < nodes.Length; i++)
        {
            _weights[i] = nodes[i].Weight;
        }
        _groups = PriorityGroups.Of(nodes);
        if (previous is not null)
        {
            ContinueFrom(previous);
        }
    }

    /// <summary>
    /// Takes over the scores of the nodes both builds have. The loops may be picking on the old build meanwhile:
    /// a score read mid-update is one pick off, which smooth round robin evens out by itself.
    /// </summary>
    private void ContinueFrom(RoundRobinBalancer previous)
    {
        var theirs = Volatile.Read(ref previous._scores);
        var mine = new long[]?[theirs.Length];
        for (var loop = 0; loop < theirs.Length; loop++)
        {
            if (theirs[loop] is not { } old)
            {
                continue;
            }
            var scores = new long[_nodes.Length];
            for (var i = 0; i < _nodes.Length; i++)
            {
                var j = Array.FindIndex(previous._nodes, n => n.Host == _nodes[i].Host && n.Port == _nodes[i].Port);
                if (j >= 0)
                {
                    scores[i] = Volatile.Read(ref old[j]);
                }
            }
            mine[loop] = scores;
        }
        _scores = mine;
    }

    public IBalancerFeedback? Feedback => null;

    public int Pick(in PickContext context, in NodeFilter filter)
    {
        var current = Scores(context.LoopIndex);
        foreach (var group in _groups)
        {
            var best = -1;
            long total = 0;
            foreach (var node in group)
            {
                if (filter.Excludes(node))
                {
                    continue;
                }
                var weight = _weights[node];
                current[node] += weight;
                total += weight;
                if (best < 0 || current[node] > current[best])
                {
                    best = node;
                }
            }
            if (best >= 0)
            {
                current[best] -= total;
                return best;
            }
        }
        return -1;
    }

    private long[] Scores(int loop)
    {
        var all = Volatile.Read(ref _scores);
        if ((uint)loop < (uint)all.Length && all[loop] is { } mine)
        {
            return mine;
        }
        // Once per loop and upstream: more loops than cores (worker_processes N) grow the table.
        lock (_grow)
        {
            all = _scores;
            if (loop >= all.Length)
            {
                Array.Resize(ref all, loop + 1);
            }
            var created = all[loop] ??= new long[_weights.Length];
            Volatile.Write(ref _scores, all);
            return created;
        }
    }
}

/// <summary>The common one-node upstream of round robin or chash: no scores, no ring, no lock.</summary>
internal sealed class SingleNodeBalancer : ILoadBalancer
{
    private readonly bool _usable;

    public SingleNodeBalancer(UpstreamNode node) => _usable = node.Weight > 0;

    public IBalancerFeedback? Feedback => null;

    public int Pick(in PickContext context, in NodeFilter filter) => _usable && !filter.Excludes(0) ? 0 : -1;
}
