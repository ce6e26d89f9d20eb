using StreamGate.Config;

namespace StreamGate.Upstreams;

/// <summary>Creates the balancer an upstream's <c>type</c> names.</summary>
internal static class Balancers
{
    /// <param name="states">
    /// The nodes' state, shared with the upstream's other builds: least_conn and ewma keep their counts and averages
    /// there, so a change that keeps a node keeps what was learned about it.
    /// </param>
    /// <param name="previous">The balancer of the upstream's last build: a balancer of the same kind continues its state.</param>
    public static ILoadBalancer Create(UpstreamConfig config, UpstreamNode[] nodes, NodeState[] states, ILoadBalancer? previous) =>
        config.Type switch
        {
            // One node has nothing to rotate or hash. least_conn and ewma keep counting even then: the counts and
            // the average are what they start from when the upstream grows.
            _ when nodes.Length == 1 && config.Type is "roundrobin" or "chash" => new SingleNodeBalancer(nodes[0]),
            "roundrobin" => new RoundRobinBalancer(nodes, previous as RoundRobinBalancer),
            "chash" => new ChashBalancer(nodes, ChashKey.Parse(config.HashOn, config.Key)),
            "least_conn" => new LeastConnBalancer(nodes, states),
            "ewma" => new EwmaBalancer(nodes, states, failurePenaltyMs: Upstream.ConnectTimeoutOf(config)),
            _ => throw new InvalidOperationException($"balancer \"{config.Type}\" is not built in"),
        };
}
