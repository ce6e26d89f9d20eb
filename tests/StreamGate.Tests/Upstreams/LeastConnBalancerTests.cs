using StreamGate.Config;
using StreamGate.Upstreams;
using static StreamGate.Tests.TestData;
using static StreamGate.Tests.Upstreams.Balancing;

namespace StreamGate.Tests.Upstreams;

public class LeastConnBalancerTests
{
    private static (LeastConnBalancer Balancer, NodeState[] States) LeastConn(params (int Weight, int Priority)[] nodes)
    {
        var states = States(nodes.Length);
        return (new LeastConnBalancer(Nodes(nodes), states), states);
    }

    /// <summary>Picks that stay connected: each adds one to its node's count.</summary>
    private static int[] Hold(ILoadBalancer balancer, int count, int loopIndex = 0)
    {
        var picks = new int[count];
        for (var i = 0; i < count; i++)
        {
            var tried = default(TriedNodes);
            picks[i] = balancer.Pick(new PickContext(Client.Addresses, loopIndex), new NodeFilter(in tried, null, false));
        }
        return picks;
    }

    [Fact]
    public void ShortConnectionsOnEqualNodesTakeTurns()
    {
        // Every count is 0 again at each pick: the rotation, not the counts, spreads them.
        var (balancer, states) = LeastConn((1, 0), (1, 0), (1, 0));
        Assert.Equal([0, 1, 2, 0, 1, 2], Enumerable.Range(0, 6).Select(_ => PickAndRelease(balancer)));
        Assert.All(states, s => Assert.Equal(0, s.Active));
    }

    [Fact]
    public void HeldConnectionsSendTheNextPicksToTheOthers()
    {
        var (balancer, states) = LeastConn((1, 0), (1, 0), (1, 0));
        // Five connections pinned on node 0 (as if opened before the others joined).
        for (var i = 0; i < 5; i++)
        {
            states[0].Acquire(0);
        }
        var picks = Hold(balancer, 10);
        Assert.Equal([0, 5, 5], Counts(picks, 3));
        Assert.Equal([5, 5, 5], states.Select(s => s.Active));
        // The next ones are shared by all three again.
        Assert.Equal([1, 1, 1], Counts(Hold(balancer, 3), 3));
    }

    [Fact]
    public void HeldConnectionsFollowTheWeights()
    {
        // Score (active + 1) / weight, as APISIX: held connections settle at the weights' ratio.
        var (balancer, states) = LeastConn((3, 0), (1, 0), (2, 0));
        Hold(balancer, 60);
        Assert.Equal([30, 10, 20], states.Select(s => s.Active));
    }

    [Fact]
    public void AnIdleUpstreamPrefersTheHeaviestNode()
    {
        // (0 + 1) / 5 beats (0 + 1) / 1: short connections all go to the weight-5 node, as in APISIX's least_conn.
        var (balancer, _) = LeastConn((1, 0), (5, 0));
        Assert.All(Enumerable.Range(0, 10).Select(_ => PickAndRelease(balancer)), p => Assert.Equal(1, p));
    }

    [Fact]
    public void ReleasingRestoresTheBalance()
    {
        var (balancer, states) = LeastConn((1, 0), (1, 0));
        Assert.Equal([3, 3], Counts(Hold(balancer, 6), 2));
        // The connections of node 1 end (one failed, two are released): the next three go there.
        balancer.Failed(1, timedOut: false, loopIndex: 0);
        balancer.Released(1, 0);
        balancer.Released(1, 0);
        Assert.Equal([3, 0], states.Select(s => s.Active));
        Assert.Equal([1, 1, 1], Hold(balancer, 3));
    }

    [Fact]
    public void LoopsCountTogether()
    {
        var (balancer, states) = LeastConn((1, 0), (1, 0));
        // Loop 0 holds two connections on node 0; loop 1 sees them and goes to node 1.
        states[0].Acquire(0);
        states[0].Acquire(0);
        Assert.Equal([1, 1], Hold(balancer, 2, loopIndex: 1));
        Assert.Equal([2, 2], states.Select(s => s.Active));
        // A connection picked by one loop may be released where the count sits, by the loop that picked it.
        balancer.Released(1, 1);
        balancer.Released(1, 1);
        Assert.Equal([1, 1], Hold(balancer, 2, loopIndex: 0));
        // Loop indexes beyond the cores share a slot and still count.
        var far = Environment.ProcessorCount * 3 + 1;
        Hold(balancer, 2, far);
        Assert.Equal(6, states.Sum(s => s.Active));
        balancer.Released(0, far);
        balancer.Released(1, far);
        Assert.Equal(4, states.Sum(s => s.Active));
    }

    [Fact]
    public void TheBackupGroupCountsToo()
    {
        var (balancer, states) = LeastConn((1, 1), (1, 0), (1, 0));
        var tried = default(TriedNodes);
        tried.Add(0, 3);
        // The primary is tried: the backups share by their own counts.
        states[1].Acquire(0);
        states[1].Acquire(0);
        Assert.Equal(2, balancer.Pick(Client, new NodeFilter(in tried, null, false)));
        Assert.Equal(2, balancer.Pick(Client, new NodeFilter(in tried, null, false)));
        Assert.Equal([0, 2, 2], states.Select(s => s.Active));
        // With the primary usable, its count does not matter against the backups'.
        for (var i = 0; i < 5; i++)
        {
            states[0].Acquire(0);
        }
        Assert.Equal(0, Pick(balancer));
    }

    [Fact]
    public void CountsSurviveARebuildThatKeepsTheNodes()
    {
        var config = new UpstreamConfig { Nodes = [], Type = "least_conn" };
        var states = States(3);
        var first = new Upstream("u", Nodes((1, 0), (1, 0)), config, states[..2]);
        var tried = default(TriedNodes);
        var context = new PickContext(Client.Addresses, 0);
        var a = first.Pick(context, in tried);
        var b = first.Pick(context, in tried);
        Assert.Equal([0, 1], new[] { a, b }.Order());

        // A third node joins; the open connections still count on the two that stay.
        var second = new Upstream("u", [.. Nodes((1, 0), (1, 0)), Node(1002)], config, states, previous: first);
        Assert.Equal(2, second.Pick(context, in tried));
        // A connection opened on the first build ends on it: the count it lowers is the one the second build reads.
        first.Released(a, 0);
        Assert.Equal(a, second.Pick(context, in tried));
        Assert.Equal([1, 1, 1], states.Select(s => s.Active));
    }
}
