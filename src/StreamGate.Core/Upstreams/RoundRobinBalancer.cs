namespace StreamGate.Upstreams;

/// <summary>
/// nginx's smooth weighted round robin (ngx_http_upstream_round_robin.c's algorithm): each pick adds every
/// eligible node's weight to its running score, takes the highest and subtracts the total from it, spreading
/// picks evenly (weights 5,1,1 give a a b a c a a, not a a a a a b c). Nodes form priority groups: a lower
/// group is used only when every node of the higher ones has been tried for this connection, as APISIX does.
/// Each event loop keeps its own scores, as each nginx worker does without a shared zone: a pick takes no lock
/// and shares no cache line with another core, and each loop's sequence is smooth on its own.
/// </summary>
internal sealed class RoundRobinBalancer : ILoadBalancer
{
    private readonly int[][] _groups;
    private readonly int[] _weights;

    // Scores per loop index, created by that loop on its first pick; only that loop reads or writes its array.
    private long[]?[] _scores = new long[]?[Environment.ProcessorCount];
    private readonly Lock _grow = new();

    public RoundRobinBalancer(IReadOnlyList<UpstreamNode> nodes)
    {
        _weights = new int[nodes.Count];
        for (var i = 0; i < nodes.Count; i++)
        {
            _weights[i] = nodes[i].Weight;
        }
        _groups = Enumerable.Range(0, nodes.Count)
            .GroupBy(i => nodes[i].Priority)
            .OrderByDescending(g => g.Key)
            .Select(g => g.ToArray())
            .ToArray();
    }

    public IBalancerFeedback? Feedback => null;

    public int Pick(in PickContext context, ref TriedNodes tried)
    {
        var current = Scores(context.LoopIndex);
        foreach (var group in _groups)
        {
            var best = -1;
            long total = 0;
            foreach (var node in group)
            {
                var weight = _weights[node];
                if (weight == 0 || tried.Contains(node))
                {
                    continue;
                }
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

/// <summary>The common one-node upstream: no scores, no lock.</summary>
internal sealed class SingleNodeBalancer : ILoadBalancer
{
    private readonly bool _usable;

    public SingleNodeBalancer(UpstreamNode node) => _usable = node.Weight > 0;

    public IBalancerFeedback? Feedback => null;

    public int Pick(in PickContext context, ref TriedNodes tried) => _usable && !tried.Contains(0) ? 0 : -1;
}
