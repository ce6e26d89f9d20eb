using StreamGate.Config;
using StreamGate.Upstreams;
using static StreamGate.Tests.TestData;
using static StreamGate.Tests.Upstreams.Balancing;

namespace StreamGate.Tests.Upstreams;

/// <summary>What every balancer type owes a session: exclusions, weight 0, priority groups, -1 when nothing is left.</summary>
public class BalancerContractTests
{
    public static readonly TheoryData<string> Types = new("roundrobin", "chash", "least_conn", "ewma");

    [Theory]
    [MemberData(nameof(Types))]
    public void CreatesTheBalancerItsTypeNames(string type)
    {
        var balancer = Create(type, Nodes((1, 0), (1, 0)));
        Assert.Equal(type, balancer switch
        {
            RoundRobinBalancer => "roundrobin",
            ChashBalancer => "chash",
            LeastConnBalancer => "least_conn",
            EwmaBalancer => "ewma",
            _ => balancer.GetType().Name,
        });
        Assert.Equal(type is "least_conn" or "ewma", balancer.Feedback is not null);
    }

    [Theory]
    [InlineData("roundrobin", typeof(SingleNodeBalancer))]
    [InlineData("chash", typeof(SingleNodeBalancer))]
    [InlineData("least_conn", typeof(LeastConnBalancer))]
    [InlineData("ewma", typeof(EwmaBalancer))]
    public void OneNodeStillCountsWhereTheCountsOutliveTheBuild(string type, Type expected)
    {
        var states = States(1);
        var balancer = Create(type, Nodes((1, 0)), states);
        Assert.IsType(expected, balancer);
        Assert.Equal(0, Pick(balancer));
        Assert.Equal(expected == typeof(SingleNodeBalancer) ? 0 : 1, states[0].Active);
    }

    [Theory]
    [InlineData("roundrobin", 5)]
    [InlineData("chash", 5)]
    [InlineData("least_conn", 5)]
    [InlineData("ewma", 5)]
    [InlineData("roundrobin", 100)]
    [InlineData("chash", 100)]
    [InlineData("least_conn", 100)]
    [InlineData("ewma", 100)]
    public void RetriesTryEveryNodeOnceThenRunOut(string type, int count)
    {
        var balancer = Create(type, [.. Enumerable.Range(0, count).Select(i => Node(1000 + i))]);
        var tried = default(TriedNodes);
        var seen = new HashSet<int>();
        for (var attempt = 0; attempt < count; attempt++)
        {
            var pick = Pick(balancer, in tried);
            Assert.True(pick >= 0, $"attempt {attempt} found no node");
            Assert.True(seen.Add(pick), $"node {pick} picked twice");
            balancer.Feedback?.Failed(pick, timedOut: false, loopIndex: 0);
            tried.Add(pick, count);
        }
        Assert.Equal(-1, Pick(balancer, in tried));
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void ExcludedNodesAreNeverPicked(string type)
    {
        var balancer = Create(type, Nodes((1, 0), (100, 0), (1, 0), (1, 0)));
        var tried = default(TriedNodes);
        tried.Add(1, 4);
        tried.Add(3, 4);
        for (var i = 0; i < 200; i++)
        {
            var pick = balancer.Pick(new PickContext(Connection($"10.0.{i / 250}.{i % 250}", "127.0.0.1", 9100), 0), new NodeFilter(in tried, null, false));
            Assert.True(pick is 0 or 2, $"picked {pick}");
            balancer.Feedback?.Released(pick, 0);
        }
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void WeightZeroIsNeverPicked(string type)
    {
        var balancer = Create(type, Nodes((1, 0), (0, 0), (2, 0), (0, 1)));
        for (var i = 0; i < 100; i++)
        {
            var pick = Pick(balancer, new PickContext(Connection($"10.1.0.{i}", "127.0.0.1", 9100), 0));
            Assert.True(pick is 0 or 2, $"picked {pick}");
            balancer.Feedback?.Released(pick, 0);
        }
        Assert.Equal(-1, Pick(Create(type, Nodes((0, 0), (0, 1)))));
        Assert.Equal(-1, Pick(Create(type, [])));
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void LowerPriorityOnlyWhenEveryHigherNodeIsExcluded(string type)
    {
        // Higher value = higher priority, as in APISIX: nodes 0 and 1 are the primary group, 2 the backup.
        var balancer = Create(type, Nodes((1, 0), (1, 0), (10, -1)));
        for (var i = 0; i < 50; i++)
        {
            Assert.NotEqual(2, PickAndRelease(balancer));
        }

        var tried = default(TriedNodes);
        var first = Pick(balancer, in tried);
        Assert.True(first is 0 or 1);
        tried.Add(first, 3);
        Assert.Equal(1 - first, Pick(balancer, in tried));
        tried.Add(1 - first, 3);
        Assert.Equal(2, Pick(balancer, in tried));
        tried.Add(2, 3);
        Assert.Equal(-1, Pick(balancer, in tried));
    }

    [Theory]
    [MemberData(nameof(Types))]
    public void PriorityGroupsAreTakenFromTheHighestDown(string type)
    {
        var balancer = Create(type, Nodes((1, -5), (1, 10), (1, 0), (0, 20)));
        var tried = default(TriedNodes);
        var order = new List<int>();
        int pick;
        while ((pick = Pick(balancer, in tried)) >= 0)
        {
            order.Add(pick);
            tried.Add(pick, 4);
        }
        Assert.Equal([1, 2, 0], order);
    }

    [Theory]
    [InlineData("least_conn")]
    [InlineData("ewma")]
    public void EveryPickIsCountedUntilItsOutcome(string type)
    {
        var states = States(2);
        var balancer = Create(type, Nodes((1, 0), (1, 0)), states);
        var a = Pick(balancer);
        var b = Pick(balancer);
        Assert.Equal(2, states[0].Active + states[1].Active);
        balancer.Feedback!.Connected(a, 1, 0);
        Assert.Equal(2, states[0].Active + states[1].Active);
        balancer.Feedback.Released(a, 0);
        balancer.Feedback.Failed(b, timedOut: true, 0);
        Assert.Equal(0, states[0].Active + states[1].Active);
    }

    [Theory]
    [InlineData("least_conn")]
    [InlineData("ewma")]
    public void NoPickNoCount(string type)
    {
        var states = States(2);
        var tried = default(TriedNodes);
        tried.Add(0, 2);
        tried.Add(1, 2);
        Assert.Equal(-1, Pick(Create(type, Nodes((1, 0), (1, 0)), states), in tried));
        Assert.Equal(0, states[0].Active + states[1].Active);
    }

    [Fact]
    public void UpstreamConnectTimeoutIsWhatEwmaCountsAFailureAs()
    {
        var config = new UpstreamConfig { Nodes = [], Type = "ewma", Timeout = new TimeoutConfig(2.5, 10, 10) };
        Assert.Equal(2500, Upstream.ConnectTimeoutOf(config));
        Assert.Equal(1, Upstream.ConnectTimeoutOf(config with { Timeout = new TimeoutConfig(0.0001, 1, 1) }));
    }
}
