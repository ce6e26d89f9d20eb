using StreamGate.Config;
using StreamGate.Health;

namespace StreamGate.Upstreams;

/// <summary>An upstream as the data plane uses it: resolved nodes, a balancer, health, and timeouts in milliseconds.</summary>
internal sealed class Upstream
{
    /// <param name="states">Each node's balancer state, kept across builds by <see cref="NodeStates"/>; fresh when null.</param>
    /// <param name="health">Each node's health under the upstream's checks; null when it has none.</param>
    /// <param name="previous">The last build of this upstream, whose balancer this one continues from.</param>
    public Upstream(string id, IReadOnlyList<UpstreamNode> nodes, UpstreamConfig config, NodeState[]? states = null, NodeHealth[]? health = null, Upstream? previous = null)
    {
        Id = id;
        Nodes = [.. nodes];
        Config = config;
        States = states ?? [.. Nodes.Select(_ => new NodeState())];
        Health = health;
        Balancer = Balancers.Create(config, Nodes, States, previous?.Balancer);
        Feedback = Balancer.Feedback;
        WantsFeedback = Feedback is not null || Health is not null;
        Retries = config.Retries ?? Math.Max(0, Nodes.Length - 1);
        RetryTimeoutMs = (long)(config.RetryTimeout * 1000);
        ConnectTimeoutMs = ConnectTimeoutOf(config);
        IdleTimeoutMs = Math.Max(1, (long)(config.Timeout.Idle * 1000));
    }

    /// <summary>The upstream's id, or "route:&lt;id&gt;" / "service:&lt;id&gt;" for an inline one.</summary>
    public string Id { get; }

    public UpstreamNode[] Nodes { get; }

    public UpstreamConfig Config { get; }

    public NodeState[] States { get; }

    /// <summary>Per node, under this upstream's checks; null without checks (every node with a weight is used).</summary>
    public NodeHealth[]? Health { get; }

    public ILoadBalancer Balancer { get; }

    /// <summary>Whether the session must report outcomes (<see cref="Connected"/>, <see cref="Failed"/>, <see cref="Released"/>).</summary>
    public bool WantsFeedback { get; }

    private IBalancerFeedback? Feedback { get; }

    /// <summary>Connect attempts after the first one fails (APISIX's default: nodes - 1).</summary>
    public int Retries { get; }

    /// <summary>0 = retries are limited only by count.</summary>
    public long RetryTimeoutMs { get; }

    public long ConnectTimeoutMs { get; }

    /// <summary>Whether a connection's server_addr must be known before the pick (chash keyed on it): a wildcard listener then asks getsockname.</summary>
    public bool KeysOnServerAddress => Balancer is ChashBalancer { KeysOnServerAddress: true };

    public long IdleTimeoutMs { get; }

    /// <summary>One connect attempt's limit in milliseconds, at least 1.</summary>
    public static long ConnectTimeoutOf(UpstreamConfig config) => Math.Max(1, (long)(config.Timeout.Connect * 1000));

    /// <summary>
    /// The node for the next attempt, skipping tried and unhealthy nodes; when every untried node is unhealthy,
    /// one of them anyway (checks that fail everywhere must not refuse all traffic). -1 when none is left.
    /// </summary>
    public int Pick(in PickContext context, ref readonly TriedNodes tried)
    {
        var node = Balancer.Pick(context, new NodeFilter(in tried, Health, ignoreHealth: false));
        if (node < 0 && Health is not null)
        {
            node = Balancer.Pick(context, new NodeFilter(in tried, Health, ignoreHealth: true));
        }
        return node;
    }

    public void Connected(int node, long connectMs, int loopIndex)
    {
        Feedback?.Connected(node, connectMs, loopIndex);
        Health?[node].ReportConnected();
    }

    public void Failed(int node, bool timedOut, int loopIndex)
    {
        Feedback?.Failed(node, timedOut, loopIndex);
        Health?[node].ReportConnectFailed(timedOut);
    }

    public void Released(int node, int loopIndex) => Feedback?.Released(node, loopIndex);

    /// <summary>Whether a node with this address is still among the nodes (drain_on_change keeps its connections).</summary>
    public bool HasNode(UpstreamNode node)
    {
        foreach (var candidate in Nodes)
        {
            if (candidate.Port == node.Port && candidate.Host == node.Host && Equals(candidate.Address, node.Address))
            {
                return true;
            }
        }
        return false;
    }
}
