using StreamGate.Config;
using StreamGate.Upstreams;
using static StreamGate.Tests.TestData;

namespace StreamGate.Tests.Upstreams;

/// <summary>What the balancer tests share: building nodes and balancers, and picking as a session does.</summary>
internal static class Balancing
{
    public static readonly PickContext Client = new(Connection("10.0.0.1", "127.0.0.1", 9100), loopIndex: 0);

    public static UpstreamNode[] Nodes(params (int Weight, int Priority)[] nodes) =>
        [.. nodes.Select((n, i) => Node(1000 + i, n.Weight, n.Priority))];

    public static NodeState[] States(int count) => [.. Enumerable.Range(0, count).Select(_ => new NodeState())];

    public static ILoadBalancer Create(string type, UpstreamNode[] nodes, NodeState[]? states = null) =>
        Balancers.Create(new UpstreamConfig { Nodes = [], Type = type }, nodes, states ?? States(nodes.Length), previous: null);

    /// <summary>A first attempt: nothing tried, no health checks.</summary>
    public static int Pick(ILoadBalancer balancer, in PickContext context)
    {
        var tried = default(TriedNodes);
        return balancer.Pick(context, new NodeFilter(in tried, null, false));
    }

    public static int Pick(ILoadBalancer balancer) => Pick(balancer, Client);

    public static int Pick(ILoadBalancer balancer, ref readonly TriedNodes tried) => balancer.Pick(Client, new NodeFilter(in tried, null, false));

    /// <summary>A pick whose connection ends at once, as a short request would: the balancer is told it was released.</summary>
    public static int PickAndRelease(ILoadBalancer balancer, int loopIndex = 0)
    {
        var tried = default(TriedNodes);
        var context = new PickContext(Client.Addresses, loopIndex);
        var node = balancer.Pick(context, new NodeFilter(in tried, null, false));
        if (node >= 0)
        {
            balancer.Feedback?.Released(node, loopIndex);
        }
        return node;
    }

    public static int[] Counts(IEnumerable<int> picks, int nodes)
    {
        var counts = new int[nodes];
        foreach (var pick in picks)
        {
            counts[pick]++;
        }
        return counts;
    }
}
