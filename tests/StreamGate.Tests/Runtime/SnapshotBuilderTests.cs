using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging.Abstractions;
using StreamGate.Config;
using StreamGate.Routing;
using StreamGate.Runtime;
using StreamGate.Upstreams;

namespace StreamGate.Tests.Runtime;

public class SnapshotBuilderTests
{
    private static readonly IpAddr Client = Ip("10.1.2.3");
    private static readonly IpAddr Server = Ip("127.0.0.1");
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private static IpAddr Ip(string text)
    {
        Assert.True(IpAddr.TryParse(text, out var address), text);
        return address;
    }

    // These sets name nodes by IP literal only, which need no lookup.
    private static readonly Dictionary<string, IPAddress?> NoNames = [];

    private static SnapshotBuilder NewBuilder() => new(new HostResolver(NullLogger.Instance));

    private static RuntimeSnapshot Build(string yaml, long version = 1) =>
        NewBuilder().Build(StandaloneFile.Parse(yaml + "\n#END\n"), version, NoNames);

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
    public async Task NodesAreResolvedThroughTheResolver()
    {
        var asked = new System.Collections.Concurrent.ConcurrentBag<string>();
        var set = StandaloneFile.Parse("upstreams:\n  - {id: u, nodes: {\"db.internal:5432\": 1, \"[::1]:5433\": 1, \"nowhere:1\": 1}}\n#END\n");
        var resolver = new HostResolver(NullLogger.Instance, (host, _) =>
        {
            asked.Add(host);
            return Task.FromResult(host == "db.internal" ? new[] { IPAddress.Parse("10.9.8.7") } : []);
        });
        var snapshot = await new SnapshotBuilder(resolver).BuildAsync(set, 1).WaitAsync(Timeout);
        // An IP literal needs no lookup.
        Assert.Equal(["db.internal", "nowhere"], asked.Order());
        Assert.Same(set, snapshot.Source);
        Assert.Empty(snapshot.Routes.Routes);
    }

    [Fact]
    public async Task AFailingNameLeavesOnlyItsNodesWithoutAddress()
    {
        var set = Set("""
            stream_routes:
              - id: 1
                upstream: {nodes: {"db.internal:5432": 1, "gone.internal:5433": 1, "[::1]:5434": 1}}
            """);
        var resolver = new HostResolver(NullLogger.Instance, (host, _) => host == "db.internal"
            ? Task.FromResult(new[] { IPAddress.Parse("10.9.8.7") })
            : Task.FromException<IPAddress[]>(new SocketException((int)SocketError.HostNotFound)));
        var snapshot = await new SnapshotBuilder(resolver).BuildAsync(set, 1).WaitAsync(Timeout);
        var nodes = Assert.Single(snapshot.Routes.Routes).Upstream.Nodes;
        Assert.Equal([IPAddress.Parse("10.9.8.7"), null, IPAddress.IPv6Loopback], nodes.Select(n => n.Address));
        Assert.Equal("gone.internal:5433", nodes[1].DisplayAddress);
    }

    [Fact]
    public void UnresolvedNodesStayWithoutAddress()
    {
        var set = StandaloneFile.Parse("stream_routes:\n  - id: 1\n    upstream: {nodes: {\"a:1\": 1, \"b:2\": 1}}\n#END\n");
        var snapshot = NewBuilder().Build(set, 1, new Dictionary<string, IPAddress?> { ["a"] = IPAddress.Parse("10.0.0.1"), ["b"] = null });
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
        var snapshot = NewBuilder().Build(ConfigSet.Empty, 7, NoNames);
        Assert.Empty(snapshot.Routes.Routes);
        Assert.Null(Match(snapshot, 9100));
    }

    private static ConfigSet Set(string yaml) => StandaloneFile.Parse(yaml + "\n#END\n");

    private static Dictionary<string, IPAddress?> Hosts(string name, string? address) =>
        new() { [name] = address is null ? null : IPAddress.Parse(address) };

    private const string NamedUpstream = """
        stream_routes:
          - {id: 1, upstream_id: u}
        upstreams:
          - {id: u, nodes: {"db.internal:5432": 1, "127.0.0.1:5433": 1}}
        """;

    /// <summary>Builds the same config object twice on one builder, db.internal resolving to each address in turn.</summary>
    private static (StreamRoute Before, StreamRoute After) BuildTwice(string? first, string? second)
    {
        var builder = NewBuilder();
        var set = Set(NamedUpstream);
        return (builder.Build(set, 1, Hosts("db.internal", first)).Routes.Routes[0], builder.Build(set, 2, Hosts("db.internal", second)).Routes.Routes[0]);
    }

    [Fact]
    public void AnUpstreamWhoseAddressChangedIsBuiltAnew()
    {
        var (before, after) = BuildTwice("10.0.0.1", "10.0.0.2");
        Assert.NotSame(before.Upstream, after.Upstream);
        Assert.NotSame(before, after);
        Assert.Equal(IPAddress.Parse("10.0.0.1"), before.Upstream.Nodes[0].Address);
        Assert.Equal(IPAddress.Parse("10.0.0.2"), after.Upstream.Nodes[0].Address);
        Assert.Equal("10.0.0.2:5432", after.Upstream.Nodes[0].DisplayAddress);
    }

    [Fact]
    public void AnUpstreamWhoseNameStoppedResolvingIsBuiltAnewWithoutThatAddress()
    {
        var (before, after) = BuildTwice("10.0.0.1", null);
        Assert.NotSame(before.Upstream, after.Upstream);
        Assert.Null(after.Upstream.Nodes[0].Address);
        Assert.Equal(IPAddress.Loopback, after.Upstream.Nodes[1].Address);
    }

    [Fact]
    public void UnchangedConfigAndAddressesReuseTheUpstreamAndRoute()
    {
        var (first, second) = BuildTwice("10.0.0.1", "10.0.0.1");
        Assert.Same(first.Upstream, second.Upstream);
        Assert.Same(first, second);
        var builder = NewBuilder();
        var literals = Set("stream_routes:\n  - id: 1\n    upstream: {nodes: {\"127.0.0.1:1\": 1}}");
        Assert.Same(builder.Build(literals, 1, NoNames).Routes.Routes[0].Upstream, builder.Build(literals, 2, NoNames).Routes.Routes[0].Upstream);
    }

    [Fact]
    public void TwoBuildersDoNotShareRuntimeObjects()
    {
        var set = Set(NamedUpstream);
        var hosts = Hosts("db.internal", "10.0.0.1");
        var one = NewBuilder();
        var first = one.Build(set, 1, hosts).Routes.Routes[0];
        var other = NewBuilder().Build(set, 1, hosts).Routes.Routes[0];
        Assert.NotSame(first.Upstream, other.Upstream);
        Assert.NotSame(first, other);
        Assert.Same(first.Upstream, one.Build(set, 2, hosts).Routes.Routes[0].Upstream);
    }

    [Fact]
    public async Task EachBuildResolvesTheNamesAgain()
    {
        var clock = new ManualClock();
        var address = IPAddress.Parse("10.0.0.1");
        var resolver = new HostResolver(NullLogger.Instance, (_, _) => Task.FromResult(new[] { address }), clock);
        var builder = new SnapshotBuilder(resolver);
        var set = Set(NamedUpstream);
        var before = (await builder.BuildAsync(set, 1).WaitAsync(Timeout)).Routes.Routes[0].Upstream;
        address = IPAddress.Parse("10.0.0.2");
        clock.Advance(HostResolver.CacheFor);
        var after = (await builder.BuildAsync(set, 2).WaitAsync(Timeout)).Routes.Routes[0].Upstream;
        Assert.NotSame(before, after);
        Assert.Equal(IPAddress.Parse("10.0.0.2"), after.Nodes[0].Address);
    }

    [Fact]
    public void AnObjectThatThrowsWhileBuiltIsSkippedWithWhatDependsOnItAndTheRestIsBuilt()
    {
        // Port 70000 passes no validator; set directly, it makes the node's socket address throw: the stand-in for
        // any object that validates but does not build.
        var bad = new UpstreamConfig { Id = "bad", Nodes = [new NodeConfig("127.0.0.1", 70000, 1, 0)] };
        var good = new UpstreamConfig { Id = "good", Nodes = [new NodeConfig("127.0.0.1", 7001, 1, 0)] };
        var set = new ConfigSet(
            [
                new StreamRouteConfig { Id = "r1", UpstreamId = "bad" },
                new StreamRouteConfig { Id = "r2", UpstreamId = "good" },
                new StreamRouteConfig { Id = "r3", Upstream = bad with { Id = null } },
                new StreamRouteConfig { Id = "r4", ServiceId = "s" },
            ],
            new Dictionary<string, UpstreamConfig> { ["bad"] = bad, ["good"] = good },
            new Dictionary<string, ServiceConfig> { ["s"] = new ServiceConfig { Id = "s", UpstreamId = "bad" } });
        var problems = new List<BuildProblem>();

        var snapshot = NewBuilder().Build(set, 3, problems, NoNames);

        Assert.Equal("r2", Assert.Single(snapshot.Routes.Routes).Id);
        Assert.Equal(["r2"], snapshot.Source.Routes.Select(r => r.Id));
        Assert.Equal(["good"], snapshot.Source.Upstreams.Keys);
        Assert.Empty(snapshot.Source.Services);
        var skipped = problems.Select(p => p.ToSkipped("/apisix/")).ToDictionary(p => p.Key, p => p.Reason);
        Assert.Equal(5, skipped.Count);
        Assert.StartsWith("cannot be built: ", skipped["/apisix/upstreams/bad"], StringComparison.Ordinal);
        Assert.EndsWith("(ArgumentOutOfRangeException)", skipped["/apisix/upstreams/bad"], StringComparison.Ordinal);
        Assert.StartsWith("upstream_id: its upstream [bad] is skipped: cannot be built: ", skipped["/apisix/stream_routes/r1"], StringComparison.Ordinal);
        Assert.StartsWith("cannot be built: ", skipped["/apisix/stream_routes/r3"], StringComparison.Ordinal);
        Assert.StartsWith("upstream_id: its upstream [bad] is skipped: ", skipped["/apisix/services/s"], StringComparison.Ordinal);
        Assert.StartsWith("service_id: its service [s] is skipped: its upstream [bad] is skipped: ", skipped["/apisix/stream_routes/r4"], StringComparison.Ordinal);

        // A file is refused whole, every problem named as a file's path.
        var errors = ConfigAssert.Throws(() => NewBuilder().Build(set, 3, NoNames));
        ConfigAssert.Single(errors, "upstreams[id=bad]", "cannot be built: ");
        ConfigAssert.Single(errors, "stream_routes[id=r1].upstream_id", "its upstream [bad] is skipped");
    }

    [Fact]
    public async Task An_upstream_reused_after_a_while_out_of_the_snapshot_shares_the_registrys_health_of_its_node()
    {
        var full = StandaloneFile.Parse("""
            services:
              - id: S
            upstreams:
              - id: u2
                nodes: {"127.0.0.1:1": 1}
                checks: {active: {type: tcp}}
            stream_routes:
              - id: r
                service_id: S
                upstream:
                  nodes: {"127.0.0.1:1": 1}
                  checks: {active: {type: tcp}}
            #END
            """);
        var holder = new SnapshotHolder();
        var builder = new SnapshotBuilder(new HostResolver(NullLogger.Instance), holder.Upstreams);
        var noServices = new Dictionary<string, ServiceConfig>();
        var noUpstreams = new Dictionary<string, UpstreamConfig>();
        // Route r with its service; then the service force-deleted (r skipped, its health forgotten) and u2, with the
        // same checks and node, added; then the service back, and r's upstream reused from the builder's cache.
        holder.Apply(builder.Build(full with { Upstreams = noUpstreams }, 1, [], NoNames));
        holder.Apply(builder.Build(full with { Upstreams = noUpstreams, Services = noServices }, 2, [], NoNames));
        holder.Apply(builder.Build(full with { Services = noServices }, 3, [], NoNames));
        holder.Apply(builder.Build(full, 4, [], NoNames));

        var upstreams = holder.Current.Upstreams;
        var route = upstreams.Single(u => u.Id == "route:r").Health![0];
        var named = upstreams.Single(u => u.Id == "u2").Health![0];
        Assert.Same(named, route);
        Assert.Equal(1, holder.Upstreams.Health.Probing);
        await holder.Upstreams.DisposeAsync();
    }
}
