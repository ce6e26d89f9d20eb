using System.Net;
using StreamGate.IntegrationTests.Infrastructure;

namespace StreamGate.IntegrationTests;

/// <summary>Upstream nodes named by host name: looked up before each build, served, and skipped when they do not resolve (said once).</summary>
public sealed class HostNameTests
{
    private const int TestTimeoutMs = 60_000;

    // localhost resolves through /etc/hosts; .invalid never resolves (RFC 6761), so no test depends on a DNS.
    private static string Nodes(TestServer server) =>
        Configs.SingleRoute(Configs.Node($"localhost:{server.Port}") + "\n" + Configs.Node($"nowhere.invalid:{server.Port}"));

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_host_name_node_is_served_and_one_that_does_not_resolve_is_skipped()
    {
        await using var a = TestServer.Named("A");
        await using var b = TestServer.Named("B");
        var port = Ports.GetFree();
        await using var gateway = await GatewayProcess.StartAsync(Configs.Gateway(port), Nodes(a));
        // Round robin sends every other connection to the unresolved node first; each fails over to localhost.
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal("A", await GatewayProcess.FirstLineAsync(port));
        }
        const string Unresolved = "Upstream node host nowhere.invalid did not resolve";
        // Reported once for the build, not per connection.
        Assert.Single(gateway.Output.Split('\n'), line => line.Contains(Unresolved, StringComparison.Ordinal));

        // A changed file is a new build, served at once; a name still failing is not reported again (once per
        // failure streak: retries every 5 s to 60 s rebuild too, and would repeat it without end).
        gateway.ReplaceStandalone(Nodes(b));
        await gateway.WaitForOutputAsync("(version 2)", TimeSpan.FromSeconds(15));
        Assert.Equal("B", await GatewayProcess.FirstLineAsync(port));
        Assert.Single(gateway.Output.Split('\n'), line => line.Contains(Unresolved, StringComparison.Ordinal));
    }
}
