using StreamGate.Upstreams;
using static StreamGate.Tests.TestData;

namespace StreamGate.Tests.Upstreams;

public class RoundRobinBalancerTests
{
    private static readonly PickContext Client = new(Connection("10.0.0.1", "127.0.0.1", 9100), loopIndex: 0);

    private static int Pick(ILoadBalancer balancer)
    {
        var tried = default(TriedNodes);
        return balancer.Pick(Client, new NodeFilter(in tried, null, false));
    }

    private static int[] Picks(ILoadBalancer balancer, int count) => [.. Enumerable.Range(0, count).Select(_ => Pick(balancer))];

    private static RoundRobinBalancer Balancer(params (int Weight, int Priority)[] nodes) =>
        new([.. nodes.Select((n, i) => Node(1000 + i, n.Weight, n.Priority))]);

    [Fact]
    public void SmoothWeightedSequenceForFiveOneOne()
    {
        var balancer = Balancer((5, 0), (1, 0), (1, 0));
        // nginx: a a b a c a a, not a a a a a b c.
        Assert.Equal([0, 0, 1, 0, 2, 0, 0], Picks(balancer, 7));
        Assert.Equal([0, 0, 1, 0, 2, 0, 0], Picks(balancer, 7));
    }

    [Fact]
    public void EqualWeightsRotate()
    {
        Assert.Equal([0, 1, 2, 0, 1, 2], Picks(Balancer((1, 0), (1, 0), (1, 0)), 6));
    }

    [Theory]
    [InlineData(new[] { 3, 1 })]
    [InlineData(new[] { 2, 5, 3 })]
    [InlineData(new[] { 1, 1, 1, 7 })]
    public void EachCycleHonoursTheWeightsExactly(int[] weights)
    {
        var balancer = Balancer([.. weights.Select(w => (w, 0))]);
        var cycle = weights.Sum();
        for (var round = 0; round < 3; round++)
        {
            var counts = new int[weights.Length];
            foreach (var pick in Picks(balancer, cycle))
            {
                counts[pick]++;
            }
            Assert.Equal(weights, counts);
        }
    }

    [Fact]
    public void WeightZeroIsNeverPicked()
    {
        var picks = Picks(Balancer((1, 0), (0, 0), (2, 0)), 30);
        Assert.DoesNotContain(1, picks);
        Assert.Equal(10, picks.Count(p => p == 0));
        Assert.Equal(20, picks.Count(p => p == 2));
    }

    [Fact]
    public void NoUsableNodeGivesMinusOne()
    {
        Assert.Equal(-1, Pick(Balancer((0, 0), (0, 0))));
        Assert.Equal(-1, Pick(Balancer((0, 1), (0, -1))));
        Assert.Equal(-1, Pick(new RoundRobinBalancer([])));
    }

    [Fact]
    public void RetriesSkipTriedNodesThenRunOut()
    {
        var balancer = Balancer((1, 0), (1, 0), (1, 0));
        var tried = default(TriedNodes);
        var seen = new List<int>();
        for (var attempt = 0; attempt < 3; attempt++)
        {
            var pick = balancer.Pick(Client, new NodeFilter(in tried, null, false));
            Assert.NotEqual(-1, pick);
            Assert.False(tried.Contains(pick));
            tried.Add(pick, 3);
            seen.Add(pick);
        }
        Assert.Equal([0, 1, 2], seen.Order());
        Assert.Equal(-1, balancer.Pick(Client, new NodeFilter(in tried, null, false)));
    }

    [Fact]
    public void TriedNodeIsSkippedEvenWithTheHighestWeight()
    {
        var balancer = Balancer((100, 0), (1, 0));
        var tried = default(TriedNodes);
        tried.Add(0, 2);
        Assert.Equal(1, balancer.Pick(Client, new NodeFilter(in tried, null, false)));
        Assert.Equal(1, balancer.Pick(Client, new NodeFilter(in tried, null, false)));
    }

    [Fact]
    public void LowerPriorityIsUsedOnlyWhenAllHigherAreTried()
    {
        // Higher value = higher priority, as in APISIX; nodes 0 and 1 are the primary group.
        var balancer = Balancer((1, 0), (1, 0), (10, -1));
        Assert.DoesNotContain(2, Picks(balancer, 20));

        var tried = default(TriedNodes);
        tried.Add(0, 3);
        Assert.Equal(1, balancer.Pick(Client, new NodeFilter(in tried, null, false)));
        tried.Add(1, 3);
        Assert.Equal(2, balancer.Pick(Client, new NodeFilter(in tried, null, false)));
        tried.Add(2, 3);
        Assert.Equal(-1, balancer.Pick(Client, new NodeFilter(in tried, null, false)));
    }

    [Fact]
    public void PriorityGroupsAreTakenFromHighestDown()
    {
        var balancer = Balancer((1, -5), (1, 10), (1, 0));
        var tried = default(TriedNodes);
        var order = new List<int>();
        int pick;
        while ((pick = balancer.Pick(Client, new NodeFilter(in tried, null, false))) >= 0)
        {
            order.Add(pick);
            tried.Add(pick, 3);
        }
        Assert.Equal([1, 2, 0], order);
    }

    [Fact]
    public void WeightsApplyWithinAPriorityGroup()
    {
        var balancer = Balancer((5, 1), (1, 1), (1, 1), (9, 0));
        Assert.Equal([0, 0, 1, 0, 2, 0, 0], Picks(balancer, 7));
    }

    [Fact]
    public void LargeUpstreamTriesEveryNodeOnce()
    {
        const int count = 100;
        var balancer = new RoundRobinBalancer([.. Enumerable.Range(0, count).Select(i => Node(1000 + i))]);
        var tried = default(TriedNodes);
        var seen = new HashSet<int>();
        for (var attempt = 0; attempt < count; attempt++)
        {
            var pick = balancer.Pick(Client, new NodeFilter(in tried, null, false));
            Assert.True(seen.Add(pick), $"node {pick} picked twice");
            tried.Add(pick, count);
        }
        Assert.Equal(count, seen.Count);
        Assert.Equal(-1, balancer.Pick(Client, new NodeFilter(in tried, null, false)));
    }

    [Fact]
    public void SingleNodeBalancer()
    {
        var balancer = new SingleNodeBalancer(Node(1));
        Assert.Equal(0, Pick(balancer));
        Assert.Equal(0, Pick(balancer));
        var tried = default(TriedNodes);
        tried.Add(0, 1);
        Assert.Equal(-1, balancer.Pick(Client, new NodeFilter(in tried, null, false)));
        Assert.Equal(-1, Pick(new SingleNodeBalancer(Node(1, weight: 0))));
    }
}
