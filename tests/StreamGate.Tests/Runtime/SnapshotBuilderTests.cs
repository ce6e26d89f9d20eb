using System.Net;
using StreamGate.Config;
using StreamGate.Routing;
using StreamGate.Runtime;
using StreamGate.Upstreams;

namespace StreamGate.Tests.Runtime;

public class SnapshotBuilderTests
{
    private static readonly IpAddr Client = Ip("10.1.2.3");
    private static readonly IpAddr Server = Ip("127.0.0.1");

    private static IpAddr Ip(string text)
    {
        Assert.True(IpAddr.TryParse(text, out var address), text);
        return address;
    }

    private static IPAddress? Loopback(string host) => IPAddress.Loopback;

    private static RuntimeSnapshot Build(string yaml, long version = 1) =>
        SnapshotBuilder.Build(StandaloneFile.Parse(yaml + "\n#END\n"), version, Loopback);

    private static IReadOnlyList<ConfigError> Errors(string yaml) => ConfigAssert.Throws(() => Build(yaml));

    private static StreamRoute? Match(RuntimeSnapshot snapshot, int port) =>
        snapshot.Routes.Match(new ConnectionAddresses(Client, 50000, Server, port));

    [Fact]
    public void ServiceWithDanglingUpstreamIdIsAnError()
    {
        var errors = Errors("services:\n  - {id: s, upstream_id: u9}");
        ConfigAssert.Single(errors, "services[id=s].upstream_id", "failed to fetch upstream info by upstream id [u9], response code: 404");
    }

    [Fact]
    public void EveryDanglingReferenceIsReported()
    {
        var errors = Errors("""
            stream_routes:
              - {id: 1, upstream_id: a}
              - {id: 2, service_id: b}
              - {id: 3, upstream_id: c}
            """);
        Assert.Equal(3, errors.Count);
        Assert.Equal("failed to fetch upstream info by upstream id [a], response code: 404", ConfigAssert.Single(errors, "stream_routes[id=1].upstream_id", "[a]").Message);
        Assert.Equal("failed to fetch service info by service id [b], response code: 404", ConfigAssert.Single(errors, "stream_routes[id=2].service_id", "[b]").Message);
        Assert.Equal("failed to fetch upstream info by upstream id [c], response code: 404", ConfigAssert.Single(errors, "stream_routes[id=3].upstream_id", "[c]").Message);
    }

    [Fact]
    public void RouteInheritsTheServiceUpstream()
    {
        var snapshot = Build("""
            services:
              - id: s
                upstream: {nodes: {"127.0.0.1:7001": 1}}
            stream_routes:
              - {id: 1, service_id: s}
            """);
        var route = Assert.Single(snapshot.Routes.Routes);
        Assert.Equal("service:s", route.Upstream.Id);
        Assert.Equal(7001, Assert.Single(route.Upstream.Nodes).Port);
    }

    [Fact]
    public void RoutesOfOneServiceShareItsUpstream()
    {
        var snapshot = Build("""
            upstreams:
              - {id: u, nodes: {"127.0.0.1:7001": 1, "127.0.0.1:7002": 1}}
            services:
              - {id: s, upstream_id: u}
            stream_routes:
              - {id: 1, service_id: s, server_port: 9100}
              - {id: 2, service_id: s, server_port: 9101}
              - {id: 3, upstream_id: u, server_port: 9102}
            """);
        var routes = snapshot.Routes.Routes;
        Assert.Equal("u", routes[0].Upstream.Id);
        Assert.Same(routes[0].Upstream, routes[1].Upstream);
        Assert.Same(routes[0].Upstream, routes[2].Upstream);
    }

    [Fact]
    public void RouteUpstreamOverridesTheServiceUpstream()
    {
        var snapshot = Build("""
            upstreams:
              - {id: u, nodes: {"127.0.0.1:7003": 1}}
            services:
              - id: s
                upstream: {nodes: {"127.0.0.1:7001": 1}}
            stream_routes:
              - id: 1
                service_id: s
                upstream: {nodes: {"127.0.0.1:7002": 1}}
              - {id: 2, service_id: s, upstream_id: u}
            """);
        Assert.Equal("route:1", snapshot.Routes.Routes[0].Upstream.Id);
        Assert.Equal(7002, snapshot.Routes.Routes[0].Upstream.Nodes[0].Port);
        Assert.Equal("u", snapshot.Routes.Routes[1].Upstream.Id);
    }

    [Fact]
    public void RouteWhoseServiceHasNoUpstreamIsAnError()
    {
        var error = Assert.Single(Errors("services:\n  - {id: s}\nstream_routes:\n  - {id: 1, service_id: s}"));
        Assert.Equal("stream_routes[id=1]", error.Path);
        Assert.Contains("the route has no upstream: its service [s] has none either", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void RoutesCompileTheirMatchFieldsInOrder()
    {
        var snapshot = Build("""
            upstreams:
              - {id: u, nodes: {"127.0.0.1:7001": 1}}
            stream_routes:
              - {id: a, remote_addr: "192.168.0.0/16", upstream_id: u}
              - {id: b, server_port: 9100, upstream_id: u}
              - {id: c, upstream_id: u}
            """, version: 42);
        Assert.Equal(42, snapshot.Version);
        Assert.Equal(["a", "b", "c"], snapshot.Routes.Routes.Select(r => r.Id));
        Assert.Equal("192.168.0.0/16", snapshot.Routes.Routes[0].RemoteAddress?.Text);
        Assert.Equal(0, snapshot.Routes.Routes[0].ServerPort);
        Assert.Equal(9100, snapshot.Routes.Routes[1].ServerPort);
        Assert.Equal("b", Match(snapshot, 9100)?.Id);
        Assert.Equal("c", Match(snapshot, 9101)?.Id);
    }

    [Fact]
    public void NodesAreResolvedThroughTheResolver()
    {
        var asked = new List<string>();
        var set = StandaloneFile.Parse("upstreams:\n  - {id: u, nodes: {\"db.internal:5432\": 1, \"[::1]:5433\": 1, \"nowhere:1\": 1}}\n#END\n");
        var snapshot = SnapshotBuilder.Build(set, 1, host =>
        {
            asked.Add(host);
            return host switch
            {
                "db.internal" => IPAddress.Parse("10.9.8.7"),
                "::1" => IPAddress.IPv6Loopback,
                _ => null,
            };
        });
        Assert.Equal(["db.internal", "::1", "nowhere"], asked);
        Assert.Same(set, snapshot.Source);
        Assert.Empty(snapshot.Routes.Routes);
    }

    [Fact]
    public void UnresolvedNodesStayWithoutAddress()
    {
        var set = StandaloneFile.Parse("stream_routes:\n  - id: 1\n    upstream: {nodes: {\"a:1\": 1, \"b:2\": 1}}\n#END\n");
        var snapshot = SnapshotBuilder.Build(set, 1, host => host == "a" ? IPAddress.Parse("10.0.0.1") : null);
        var nodes = snapshot.Routes.Routes[0].Upstream.Nodes;
        Assert.Equal(IPAddress.Parse("10.0.0.1"), nodes[0].Address);
        Assert.Equal("10.0.0.1:1", nodes[0].DisplayAddress);
        Assert.Null(nodes[1].Address);
        Assert.Empty(nodes[1].SocketAddress);
        Assert.Equal("b:2", nodes[1].DisplayAddress);
    }

    [Fact]
    public void UpstreamSettingsReachTheRuntimeUpstream()
    {
        var snapshot = Build("""
            stream_routes:
              - id: 1
                upstream:
                  nodes: {"127.0.0.1:1": 1, "127.0.0.1:2": 1, "127.0.0.1:3": 1}
                  timeout: {connect: 2, send: 5, read: 9}
            """);
        var upstream = snapshot.Routes.Routes[0].Upstream;
        Assert.Equal(2, upstream.Retries);
        Assert.Equal(2000, upstream.ConnectTimeoutMs);
        Assert.Equal(9000, upstream.IdleTimeoutMs);
        Assert.IsType<RoundRobinBalancer>(upstream.Balancer);
    }

    [Fact]
    public void EmptySetBuildsAnEmptyTable()
    {
        var snapshot = SnapshotBuilder.Build(ConfigSet.Empty, 7, Loopback);
        Assert.Empty(snapshot.Routes.Routes);
        Assert.Null(Match(snapshot, 9100));
    }
}
