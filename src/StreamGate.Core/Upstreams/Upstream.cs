using StreamGate.Config;

namespace StreamGate.Upstreams;

/// <summary>An upstream as the data plane uses it: resolved nodes, a balancer, and timeouts in milliseconds.</summary>
internal sealed class Upstream
{
    public Upstream(string id, IReadOnlyList<UpstreamNode> nodes, UpstreamConfig config)
    {
        Id = id;
        Nodes = [.. nodes];
        Balancer = Nodes.Length == 1 ? new SingleNodeBalancer(Nodes[0]) : new RoundRobinBalancer(Nodes);
        Retries = config.Retries ?? Math.Max(0, Nodes.Length - 1);
        RetryTimeoutMs = (long)(config.RetryTimeout * 1000);
        ConnectTimeoutMs = Math.Max(1, (long)(config.Timeout.Connect * 1000));
        IdleTimeoutMs = Math.Max(1, (long)(config.Timeout.Idle * 1000));
    }

    /// <summary>The upstream's id, or "route:&lt;id&gt;" / "service:&lt;id&gt;" for an inline one.</summary>
    public string Id { get; }

    public UpstreamNode[] Nodes { get; }

    public ILoadBalancer Balancer { get; }

    /// <summary>Connect attempts after the first one fails (APISIX's default: nodes - 1).</summary>
    public int Retries { get; }

    /// <summary>0 = retries are limited only by count.</summary>
    public long RetryTimeoutMs { get; }

    public long ConnectTimeoutMs { get; }

    public long IdleTimeoutMs { get; }

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
