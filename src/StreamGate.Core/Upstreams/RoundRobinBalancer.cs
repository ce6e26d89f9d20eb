namespace StreamGate.Upstreams;

/// <summary>
/// nginx's smooth weighted round robin (ngx_http_upstream_round_robin.c's algorithm): each pick adds every
/// eligible node's weight to its running score, takes the highest and subtracts the total from it, spreading
/// picks evenly (weights 5,1,1 give a a b a c a a, not a a a a a b c). Nodes form priority groups: a lower
/// group is used only when every node of the higher ones has been tried for this connection, as APISIX does.
/// </summary>
internal sealed class RoundRobinBalancer : ILoadBalancer
{
    private readonly int[][] _groups;
    private readonly int[] _weights;
    private readonly long[] _current;
    private readonly Lock _lock = new();

    public RoundRobinBalancer(IReadOnlyList<UpstreamNode> nodes)
    {
        _weights = new int[nodes.Count];
        _current = new long[nodes.Count];
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

    public int Pick(in ConnectionAddresses connection, ref TriedNodes tried)
    {
        lock (_lock)
        {
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
                    _current[node] += weight;
                    total += weight;
                    if (best < 0 || _current[node] > _current[best])
                    {
                        best = node;
                    }
                }
                if (best >= 0)
                {
                    _current[best] -= total;
                    return best;
                }
            }
        }
        return -1;
    }
}

/// <summary>The common one-node upstream: no scores, no lock.</summary>
internal sealed class SingleNodeBalancer : ILoadBalancer
{
    private readonly bool _usable;

    public SingleNodeBalancer(UpstreamNode node) => _usable = node.Weight > 0;

    public int Pick(in ConnectionAddresses connection, ref TriedNodes tried) => _usable && !tried.Contains(0) ? 0 : -1;
}
