using BenchmarkDotNet.Attributes;
using StreamGate.Config;
using StreamGate.Routing;
using StreamGate.Upstreams;

namespace StreamGate.Bench.Pick;

/// <summary>
/// What choosing a node costs a connection: one pick through <see cref="ILoadBalancer"/>, as a session makes it
/// (nothing tried, no health checks), and for least_conn and ewma the feedback that pick owes (Connected with a
/// connect time, then Released). 1,024 clients of distinct addresses and ports take turns, so chash hashes a new
/// key each time and its ring is searched from cold-ish positions.
/// </summary>
[MemoryDiagnoser]
public class PickBenchmarks
{
    private const int Clients = 1024;

    private ILoadBalancer _balancer = null!;
    private IBalancerFeedback? _feedback;
    private PickContext[] _clients = [];

    [Params("roundrobin", "chash", "least_conn", "ewma")]
    public string Type { get; set; } = "roundrobin";

    [Params(2, 10, 100)]
    public int Nodes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var nodes = new UpstreamNode[Nodes];
        var states = new NodeState[Nodes];
        for (var i = 0; i < Nodes; i++)
        {
            nodes[i] = new UpstreamNode($"10.1.{i / 256}.{i % 256}", 8000 + i, weight: 1 + i % 3, priority: 0, address: null);
            states[i] = new NodeState();
        }
        var config = new UpstreamConfig { Nodes = [], Type = Type, Key = "remote_addr" };
        _balancer = new Upstream("bench", nodes, config, states).Balancer;
        _feedback = _balancer.Feedback;
        _clients = new PickContext[Clients];
        for (var i = 0; i < Clients; i++)
        {
            var remote = IpAddr.FromV4(0x0A00_0000u | (uint)(i * 7919));
            _clients[i] = new PickContext(new ConnectionAddresses(remote, 20000 + i, IpAddr.FromV4(0x7F00_0001), 9100), loopIndex: 0);
        }
    }

    [Benchmark(OperationsPerInvoke = Clients)]
    public int Pick()
    {
        var balancer = _balancer;
        var feedback = _feedback;
        var clients = _clients;
        var sum = 0;
        for (var i = 0; i < clients.Length; i++)
        {
            var tried = default(TriedNodes);
            var node = balancer.Pick(clients[i], new NodeFilter(in tried, null, false));
            if (feedback is not null)
            {
                // Connect times of 1 to 4 ms by node, so ewma has averages to compare.
                feedback.Connected(node, 1 + node % 4, 0);
                feedback.Released(node, 0);
            }
            sum += node;
        }
        return sum;
    }
}
