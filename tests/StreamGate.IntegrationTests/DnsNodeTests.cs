using System.Net;
using StreamGate.IntegrationTests.Infrastructure;
using StreamGate.Tests.Runtime;

namespace StreamGate.IntegrationTests;

/// <summary>
/// Upstream nodes named by DNS, resolved through a dnsmasq the test starts (config.yaml's apisix.dns_resolver):
/// served by name, kept on the last good answer when the resolver goes away, and a name that never resolved
/// closes its connections with a log line that says why.
/// </summary>
public sealed class DnsNodeTests
{
    private const int TestTimeoutMs = 60_000;

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_dns_name_node_is_served_and_keeps_its_last_answer_when_the_resolver_goes_away()
    {
        await using var backend = TestServer.Named("A");
        await using var dns = await Dnsmasq.StartAsync("--host-record=db.test,127.0.0.1,1");
        var port = Ports.GetFree();
        var unresolvedPort = Ports.GetFree();
        var config = $"""
            apisix:
              proxy_mode: stream
              stream_proxy:
                tcp: ["127.0.0.1:{port}", "127.0.0.1:{unresolvedPort}"]
              control:
                ip: 127.0.0.1
                port: {Ports.GetFree()}
              dns_resolver: ["127.0.0.1:{dns.Port}"]
              dns_ttl_min: 1
              resolver_timeout: 1
            deployment:
              role: data_plane
              role_data_plane:
                config_provider: yaml
            """;
        var routes = $$"""
            stream_routes:
              - id: by-name
                server_port: {{port}}
                upstream:
                  nodes: {"db.test:{{backend.Port}}": 1}
              - id: never
                server_port: {{unresolvedPort}}
                upstream:
                  nodes: {"missing.test:{{backend.Port}}": 1}
            #END
            """;
        await using var gateway = await GatewayProcess.StartAsync(config, routes);
        Assert.Equal("A", await GatewayProcess.FirstLineAsync(port));

        // A name the resolver does not know: the connection is closed without a byte, and the log says why.
        using (var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, unresolvedPort))
        {
            Assert.Empty(await client.ReceiveToEndAsync());
        }
        await gateway.WaitForOutputAsync("node missing.test:" + backend.Port + " has no address", TimeSpan.FromSeconds(10));
        Assert.Equal(1, backend.Accepted);

        // The resolver goes away: once the 1 s answer has expired and its refresh failed, the last address serves on.
        await dns.DisposeAsync();
        await gateway.WaitForOutputAsync("Refreshing upstream node host db.test failed", TimeSpan.FromSeconds(20));
        Assert.Equal("A", await GatewayProcess.FirstLineAsync(port));
    }
}
