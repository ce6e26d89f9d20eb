namespace StreamGate.Upstreams;

/// <summary>
/// APISIX's <c>least_conn</c>: the node of the highest usable priority group with the lowest
/// (active connections + 1) / weight, compared without dividing: a/w &lt; b/v as a·v &lt; b·w in 64 bits (each side is
/// below 2^62). The counts are the nodes' <see cref="NodeState"/>s, which every build of the upstream that keeps
/// a node shares (APISIX keeps its heap across pickers for the same reason, #12217): connections opened before a
/// configuration change still count after it, and their release lands on the same counter.
/// <para>
/// Ties: each pick starts its scan one node further on than the loop's previous pick (a per-loop rotation) and keeps
/// the first node of the lowest score, so equal nodes take turns. Holding connections breaks ties by itself; the
/// rotation matters when connections are short, when every count is back to 0 by the next pick and a fixed scan
/// order would send everything to the first node. A smooth weighted round robin among the tied nodes would also
/// do, at the price of per-loop score arrays; with scores that include the weight, ties are nearly always among
/// nodes of equal weight, where a rotation is already fair.
/// </para>
/// </summary>
internal sealed class LeastConnBalancer : ILoadBalancer, IBalancerFeedback
{
    private readonly int[][] _groups;
    private readonly int[] _weights;
    private readonly NodeState[] _states;
    private readonly PerLoop<int> _rotation = new();

    public LeastConnBalancer(UpstreamNode[] nodes, NodeState[] states)
    {
        _groups = PriorityGroups.Of(nodes);
        _weights = [.. nodes.Select(n => n.Weight)];
        _states = states;
    }

    public IBalancerFeedback? Feedback => this;

    public int Pick(in PickContext context, in NodeFilter filter)
    {
        var turn = (uint)_rotation[context.LoopIndex]++;
        foreach (var group in _groups)
        {
            var best = -1;
            long bestLoad = 0, bestWeight = 1;
            var at = (int)(turn % (uint)group.Length);
            for (var k = 0; k < group.Length; k++, at++)
            {
                if (at == group.Length)
                {
                    at = 0;
                }
                var node = group[at];
                if (filter.Excludes(node))
                {
                    continue;
                }
                long load = _states[node].Active + 1L;
                long weight = _weights[node];
                if (best < 0 || load * bestWeight < bestLoad * weight)
                {
                    best = node;
                    bestLoad = load;
                    bestWeight = weight;
                }
            }
            if (best >= 0)
            {
                _states[best].Acquire(context.LoopIndex);
                return best;
            }
        }
        return -1;
    }

    public void Connected(int node, long connectMs, int loopIndex)
    {
    }

    public void Failed(int node, bool timedOut, int loopIndex) => _states[node].Release(loopIndex);

    public void Released(int node, int loopIndex) => _states[node].Release(loopIndex);
}
