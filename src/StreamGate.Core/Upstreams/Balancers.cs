using StreamGate.Config;

namespace StreamGate.Upstreams;

/// <summary>Creates the balancer an upstream's <c>type</c> names.</summary>
internal static class Balancers
{
    /// <param name="previous">The balancer of the upstream's last build: a balancer of the same kind continues its state.</param>
    public static ILoadBalancer Create(UpstreamConfig config, UpstreamNode[] nodes, NodeState[] states, ILoadBalancer? previous) =>
        config.Type switch
        {
            _ when nodes.Length == 1 && config.Type is "roundrobin" or "chash" => new SingleNodeBalancer(nodes[0]),
            "roundrobin" => new RoundRobinBalancer(nodes, previous as RoundRobinBalancer),
            _ => throw new InvalidOperationException($"balancer \"{config.Type}\" is not built in"),
        };
}
