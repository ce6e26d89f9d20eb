using StreamGate.Config;
using StreamGate.Routing;
using static StreamGate.Tests.TestData;

namespace StreamGate.Tests.Routing;

public class RouteTableTests
{
    private static string? Match(RouteTable table, string remote, int port, string server = "127.0.0.1") =>
        table.Match(Connection(remote, server, port))?.Id;

    [Fact]
    public void EmptyTableMatchesNothing()
    {
        Assert.Null(Match(RouteTable.Empty, "10.0.0.1", 9100));
        Assert.Null(Match(new RouteTable([]), "10.0.0.1", 9100));
    }

    [Fact]
    public void RouteWithoutFieldsMatchesAllTraffic()
    {
        var table = new RouteTable([Route("all")]);
        Assert.Equal("all", Match(table, "10.0.0.1", 9100));
        Assert.Equal("all", Match(table, "2001:db8::1", 1, server: "::1"));
    }

    [Fact]
    public void FirstMatchingRouteInConfigurationOrderWins()
    {
        var table = new RouteTable([Route("narrow", remote: "10.1.0.0/16"), Route("wide", remote: "10.0.0.0/8"), Route("rest")]);
        Assert.Equal("narrow", Match(table, "10.1.2.3", 9100));
        Assert.Equal("wide", Match(table, "10.2.0.1", 9100));
        Assert.Equal("rest", Match(table, "192.168.0.1", 9100));

        var shadowed = new RouteTable([Route("wide", remote: "10.0.0.0/8"), Route("narrow", remote: "10.1.0.0/16")]);
        Assert.Equal("wide", Match(shadowed, "10.1.2.3", 9100));
    }

    [Fact]
    public void RoutesFiledUnderDifferentIndexesStillMatchInConfigurationOrder()
    {
        // One route per index kind (remote_addr, server_addr, server_port, none), interleaved with each other.
        var table = new RouteTable(
        [
            Route("by-server", server: "127.0.0.2", port: 9101),
            Route("by-remote", remote: "10.0.0.0/8", server: "127.0.0.2"),
            Route("by-port", port: 9101),
            Route("by-server-wide", server: "127.0.0.0/8"),
            Route("rest"),
        ]);
        Assert.Equal("by-server", Match(table, "10.1.1.1", 9101, server: "127.0.0.2"));
        Assert.Equal("by-remote", Match(table, "10.1.1.1", 9102, server: "127.0.0.2"));
        Assert.Equal("by-port", Match(table, "192.0.2.1", 9101, server: "127.0.0.3"));
        Assert.Equal("by-server-wide", Match(table, "192.0.2.1", 9102, server: "127.0.0.3"));
        Assert.Equal("rest", Match(table, "192.0.2.1", 9102, server: "::1"));
    }

    [Fact]
    public void TenThousandServerAddressRoutesEachMatchTheirOwnAddress()
    {
        var routes = Enumerable.Range(0, 10_000).Select(i => Route($"r{i}", server: $"10.{i / 256 % 256}.{i % 256}.1")).ToList();
        routes.Add(Route("rest"));
        var table = new RouteTable(routes);
        Assert.Equal("r0", Match(table, "192.0.2.1", 9100, server: "10.0.0.1"));
        Assert.Equal("r9999", Match(table, "192.0.2.1", 9100, server: "10.39.15.1"));
        Assert.Equal("rest", Match(table, "192.0.2.1", 9100, server: "10.99.0.1"));
    }

    [Fact]
    public void PortLessRouteBeforeAPortRouteStillWinsForThatPort()
    {
        var table = new RouteTable([Route("any-10", remote: "10.0.0.0/8"), Route("port", port: 9100), Route("fallback")]);
        Assert.Equal("any-10", Match(table, "10.0.0.1", 9100));
        Assert.Equal("port", Match(table, "11.0.0.1", 9100));
        Assert.Equal("fallback", Match(table, "11.0.0.1", 9101));
        Assert.Equal("any-10", Match(table, "10.0.0.1", 9101));
    }

    [Fact]
    public void PortRouteBeforeAPortLessRouteWins()
    {
        var table = new RouteTable([Route("p1", port: 9100), Route("any"), Route("p2", port: 9100)]);
        Assert.Equal("p1", Match(table, "10.0.0.1", 9100));
        Assert.Equal("any", Match(table, "10.0.0.1", 9200));
    }

    [Fact]
    public void MergeInterleavesManyRoutesInOrder()
    {
        // Only the last route of each kind matches the client, so the merge must walk both lists in order.
        var table = new RouteTable([
            Route("p-a", remote: "1.1.1.1", port: 9100),
            Route("any-a", remote: "1.1.1.2"),
            Route("p-b", remote: "1.1.1.3", port: 9100),
            Route("any-b", remote: "1.1.1.4"),
            Route("p-c", remote: "10.0.0.0/8", port: 9100),
            Route("any-c", remote: "10.0.0.0/8"),
        ]);
        Assert.Equal("p-c", Match(table, "10.0.0.1", 9100));
        Assert.Equal("any-c", Match(table, "10.0.0.1", 9101));
        Assert.Equal("any-b", Match(table, "1.1.1.4", 9100));
        Assert.Equal("p-b", Match(table, "1.1.1.3", 9100));
        Assert.Null(Match(table, "1.1.1.3", 9101));
    }

    [Theory]
    [InlineData("10.0.0.1", "127.0.0.1", 9100, true)]
    [InlineData("11.0.0.1", "127.0.0.1", 9100, false)]
    [InlineData("10.0.0.1", "127.0.0.2", 9100, false)]
    [InlineData("10.0.0.1", "127.0.0.1", 9101, false)]
    public void AllPresentFieldsMustHold(string remote, string server, int port, bool matches)
    {
        var table = new RouteTable([Route("and", remote: "10.0.0.0/8", server: "127.0.0.1", port: 9100)]);
        Assert.Equal(matches ? "and" : null, Match(table, remote, port, server));
    }

    [Fact]
    public void IPv6CatchAllRouteLeavesIPv4ClientsToLaterRoutes()
    {
        var table = new RouteTable([Route("v6", remote: "::/0"), Route("v4", remote: "0.0.0.0/0")]);
        Assert.Equal("v6", Match(table, "2001:db8::1", 9100, server: "::1"));
        Assert.Equal("v4", Match(table, "192.0.2.1", 9100));
    }

    [Fact]
    public void ServerAddressMatchesIPv6Listeners()
    {
        var table = new RouteTable([Route("v6", server: "::1"), Route("v4", server: "127.0.0.0/8")]);
        Assert.Equal("v6", Match(table, "::1", 9100, server: "::1"));
        Assert.Equal("v4", Match(table, "10.0.0.1", 9100, server: "127.0.0.5"));
        Assert.Null(Match(table, "10.0.0.1", 9100, server: "192.168.0.1"));
    }

    [Fact]
    public void NoMatchIsNull()
    {
        var table = new RouteTable([Route("a", remote: "10.0.0.0/8"), Route("b", port: 9100)]);
        Assert.Null(Match(table, "192.168.0.1", 9101));
    }

    [Fact]
    public void RoutesAreExposedInOrder()
    {
        var table = new RouteTable([Route("x", port: 2), Route("y"), Route("z", port: 1)]);
        Assert.Equal(["x", "y", "z"], table.Routes.Select(r => r.Id));
    }

    [Fact]
    public void RouteMatchesChecksEachField()
    {
        var route = Route("r", remote: "10.0.0.0/8", port: 9100);
        Assert.True(route.Matches(Connection("10.9.9.9", "1.1.1.1", 9100)));
        Assert.False(route.Matches(Connection("10.9.9.9", "1.1.1.1", 9101)));
        Assert.False(route.Matches(Connection("11.9.9.9", "1.1.1.1", 9100)));
        Assert.Null(route.ServerAddress);
        Assert.Equal("10.0.0.0/8", route.RemoteAddress?.Text);
    }

    [Fact]
    public void ServerAddressIsNeededForRoutesOnItAndForChashUpstreamsKeyedOnIt()
    {
        StreamRoute Chash(string key) =>
            new("c-" + key, null, null, 0, NewUpstream("u-" + key, new UpstreamConfig { Nodes = [], Type = "chash", Key = key }, Node(1), Node(2)));
        Assert.False(new RouteTable([Route("a"), Route("b", remote: "10.0.0.0/8"), Chash("remote_addr")]).UsesServerAddress);
        Assert.True(new RouteTable([Route("a"), Route("b", server: "10.0.0.0/8")]).UsesServerAddress);
        Assert.True(new RouteTable([Route("a"), Chash("server_addr")]).UsesServerAddress);
    }
}
