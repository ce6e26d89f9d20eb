using System.Net;
using StreamGate.IntegrationTests.Infrastructure;

namespace StreamGate.IntegrationTests;

/// <summary>Route matching on real connections: remote_addr, server_addr and server_port, first match in order.</summary>
public sealed class RoutingTests
{
    private const int TestTimeoutMs = 60_000;

    private static string Routes(string routesYaml, TestServer a, TestServer b) => $$"""
        stream_routes:
        {{routesYaml}}
        upstreams:
          - id: a
            nodes: {"{{a.Node}}": 1}
          - id: b
            nodes: {"{{b.Node}}": 1}
        #END
        """;

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Remote_addr_matches_the_client_address_and_cidr()
    {
        await using var a = TestServer.Named("A");
        await using var b = TestServer.Named("B");
        await using var c = TestServer.Named("C");
        var port = Ports.GetFree();
        var routes = $$"""
            stream_routes:
              - id: exact
                remote_addr: 127.0.0.5
                upstream_id: a
              - id: cidr
                remote_addr: 127.0.0.64/26
                upstream: {nodes: {"{{c.Node}}": 1} }
              - id: rest
                upstream_id: b
            upstreams:
              - id: a
                nodes: {"{{a.Node}}": 1}
              - id: b
                nodes: {"{{b.Node}}": 1}
            #END
            """;
        await using var gateway = await GatewayProcess.StartAsync(Configs.Gateway(port), routes);
        Assert.Equal("A", await GatewayProcess.FirstLineAsync(IPAddress.Loopback, port, IPAddress.Parse("127.0.0.5")));
        Assert.Equal("C", await GatewayProcess.FirstLineAsync(IPAddress.Loopback, port, IPAddress.Parse("127.0.0.70")));
        Assert.Equal("B", await GatewayProcess.FirstLineAsync(IPAddress.Loopback, port, IPAddress.Parse("127.0.0.6")));
        Assert.Equal("B", await GatewayProcess.FirstLineAsync(IPAddress.Loopback, port));
    }

    [Theory(Timeout = TestTimeoutMs)]
    [InlineData("127.0.0.2", false)]
    [InlineData("127.0.0.3", true)]
    public async Task Server_addr_matches_the_address_the_client_reached(string secondAddress, bool wildcardListener)
    {
        await using var a = TestServer.Named("A");
        await using var b = TestServer.Named("B");
        var port = Ports.GetFree();
        var routes = Routes($"""
              - id: second-address
                server_addr: {secondAddress}
                upstream_id: a
              - id: rest
                upstream_id: b
            """, a, b);
        // A wildcard listener learns the address per connection (getsockname); a bound one knows it.
        string[] listens = wildcardListener ? [$"{port}"] : [$"127.0.0.1:{port}", $"{secondAddress}:{port}"];
        await using var gateway = await GatewayProcess.StartAsync(Configs.Gateway(listens), routes);
        Assert.Equal("A", await GatewayProcess.FirstLineAsync(IPAddress.Parse(secondAddress), port));
        Assert.Equal("B", await GatewayProcess.FirstLineAsync(IPAddress.Loopback, port));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Server_port_selects_the_route_and_no_match_closes_silently()
    {
        await using var a = TestServer.Named("A");
        await using var b = TestServer.Named("B");
        var portA = Ports.GetFree();
        var portB = Ports.GetFree();
        var portNone = Ports.GetFree();
        var routes = Routes($"""
              - id: on-a
                server_port: {portA}
                upstream_id: a
              - id: on-b
                server_port: {portB}
                upstream_id: b
            """, a, b);
        await using var gateway = await GatewayProcess.StartAsync(
            Configs.Gateway([$"127.0.0.1:{portA}", $"127.0.0.1:{portB}", $"127.0.0.1:{portNone}"]), routes);
        Assert.Equal("A", await GatewayProcess.FirstLineAsync(IPAddress.Loopback, portA));
        Assert.Equal("B", await GatewayProcess.FirstLineAsync(IPAddress.Loopback, portB));
        using var unmatched = await GatewayProcess.ConnectAsync(IPAddress.Loopback, portNone);
        Assert.Empty(await unmatched.ReceiveToEndAsync());
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task All_present_fields_must_hold_and_order_decides()
    {
        await using var a = TestServer.Named("A");
        await using var b = TestServer.Named("B");
        var port = Ports.GetFree();
        var routes = Routes($"""
              - id: both
                remote_addr: 127.0.0.9
                server_port: {port}
                upstream_id: a
              - id: port-only
                server_port: {port}
                upstream_id: b
              - id: never-reached
                remote_addr: 127.0.0.9
                upstream_id: b
            """, a, b);
        await using var gateway = await GatewayProcess.StartAsync(Configs.Gateway(port), routes);
        Assert.Equal("A", await GatewayProcess.FirstLineAsync(IPAddress.Loopback, port, IPAddress.Parse("127.0.0.9")));
        Assert.Equal("B", await GatewayProcess.FirstLineAsync(IPAddress.Loopback, port, IPAddress.Parse("127.0.0.10")));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_route_inherits_its_services_upstream()
    {
        await using var a = TestServer.Named("A");
        var port = Ports.GetFree();
        var routes = $$"""
            stream_routes:
              - id: 1
                service_id: s1
            services:
              - id: s1
                upstream_id: a
            upstreams:
              - id: a
                nodes: [{host: 127.0.0.1, port: {{a.Port}}, weight: 1}]
            #END
            """;
        await using var gateway = await GatewayProcess.StartAsync(Configs.Gateway(port), routes);
        Assert.Equal("A", await GatewayProcess.FirstLineAsync(IPAddress.Loopback, port));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Priority_groups_send_traffic_to_the_backup_only_when_the_primary_fails()
    {
        await using var backup = TestServer.Named("K");
        using var closed = Ports.ReserveClosed(out var closedPort);
        var port = Ports.GetFree();
        var routes = $$"""
            stream_routes:
              - id: 1
                upstream:
                  nodes:
                    - {host: 127.0.0.1, port: {{closedPort}}, weight: 1, priority: 10}
                    - {host: 127.0.0.1, port: {{backup.Port}}, weight: 1, priority: 0}
            #END
            """;
        await using var gateway = await GatewayProcess.StartAsync(Configs.Gateway(port), routes);
        Assert.Equal("K", await GatewayProcess.FirstLineAsync(IPAddress.Loopback, port));
    }
}
