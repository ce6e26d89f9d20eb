using System.Net;
using StreamGate.Config;
using StreamGate.Upstreams;
using static StreamGate.Tests.TestData;

namespace StreamGate.Tests.Upstreams;

public class UpstreamTests
{
    private static UpstreamConfig Config(int? retries = null, double retryTimeout = 0, TimeoutConfig? timeout = null) =>
        new() { Nodes = [], Retries = retries, RetryTimeout = retryTimeout, Timeout = timeout ?? TimeoutConfig.Default };

    [Theory]
    [InlineData(1, 0)]
    [InlineData(2, 1)]
    [InlineData(5, 4)]
    public void RetriesDefaultToNodesMinusOne(int nodes, int retries)
    {
        var upstream = NewUpstream("u", Config(), [.. Enumerable.Range(0, nodes).Select(i => Node(1000 + i))]);
        Assert.Equal(retries, upstream.Retries);
    }

    [Fact]
    public void NoNodesMeansNoRetriesAndNoPick()
    {
        var upstream = NewUpstream("u", Config());
        Assert.Equal(0, upstream.Retries);
        var tried = default(TriedNodes);
        Assert.Equal(-1, upstream.Pick(new PickContext(Connection("10.0.0.1", "127.0.0.1", 1), loopIndex: 0), in tried));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    public void ExplicitRetriesWin(int retries)
    {
        Assert.Equal(retries, NewUpstream("u", Config(retries: retries), Node(1), Node(2), Node(3)).Retries);
    }

    [Theory]
    [InlineData(60, 600, 600, 60_000, 600_000)]
    [InlineData(1.5, 2, 5, 1500, 5000)]
    [InlineData(3, 9, 4, 3000, 9000)]
    [InlineData(0.25, 0.5, 0.5, 250, 500)]
    public void TimeoutsAreMillisecondsAndIdleIsMaxOfSendAndRead(double connect, double send, double read, long connectMs, long idleMs)
    {
        var upstream = NewUpstream("u", Config(timeout: new TimeoutConfig(connect, send, read)), Node(1));
        Assert.Equal(connectMs, upstream.ConnectTimeoutMs);
        Assert.Equal(idleMs, upstream.IdleTimeoutMs);
    }

    [Fact]
    public void TinyTimeoutsAreAtLeastOneMillisecond()
    {
        var upstream = NewUpstream("u", Config(timeout: new TimeoutConfig(0.0001, 0.0001, 0.0001)), Node(1));
        Assert.Equal(1, upstream.ConnectTimeoutMs);
        Assert.Equal(1, upstream.IdleTimeoutMs);
    }

    [Fact]
    public void RetryTimeoutIsMilliseconds()
    {
        Assert.Equal(0, NewUpstream("u", Config(), Node(1)).RetryTimeoutMs);
        Assert.Equal(2500, NewUpstream("u", Config(retryTimeout: 2.5), Node(1)).RetryTimeoutMs);
    }

    [Fact]
    public void OneNodeUsesTheSingleNodeBalancer()
    {
        Assert.IsType<SingleNodeBalancer>(NewUpstream("u", Config(), Node(1)).Balancer);
        Assert.IsType<RoundRobinBalancer>(NewUpstream("u", Config(), Node(1), Node(2)).Balancer);
    }

    [Fact]
    public void NodesAndIdAreKept()
    {
        var upstream = NewUpstream("route:7", Config(), Node(1), Node(2));
        Assert.Equal("route:7", upstream.Id);
        Assert.Equal([1, 2], upstream.Nodes.Select(n => n.Port));
    }

    [Theory]
    [InlineData("127.0.0.1", 80, "127.0.0.1:80")]
    [InlineData("::1", 6379, "[::1]:6379")]
    public void NodeDisplayAddressIsNginxUpstreamAddr(string address, int port, string expected)
    {
        var node = new UpstreamNode("host.example", port, 1, 0, IPAddress.Parse(address));
        Assert.Equal(expected, node.DisplayAddress);
        Assert.NotEmpty(node.SocketAddress);
        Assert.True(node.SocketAddressLength > 0);
    }

    [Fact]
    public void UnresolvedNodeShowsItsHost()
    {
        var node = new UpstreamNode("db.internal", 5432, 1, 0, null);
        Assert.Null(node.Address);
        Assert.Empty(node.SocketAddress);
        Assert.Equal("db.internal:5432", node.DisplayAddress);
    }

    [Fact]
    public void TimeoutConfigIdleIsMaxOfSendAndRead()
    {
        Assert.Equal(8, new TimeoutConfig(1, 8, 2).Idle);
        Assert.Equal(9, new TimeoutConfig(1, 3, 9).Idle);
        Assert.Equal(new TimeoutConfig(60, 600, 600), TimeoutConfig.Default);
    }
}
