using System.Net;
using System.Net.Sockets;
using StreamGate.IntegrationTests.Admin;
using StreamGate.IntegrationTests.Infrastructure;

namespace StreamGate.IntegrationTests;

/// <summary>
/// The upstream layer through the real gateway: priority failover, retries that run out, chash keeping clients on
/// their nodes across a change, and a sub-path PATCH of nodes that keeps what balancers learned of the nodes it keeps.
/// </summary>
public sealed class UpstreamLayerTests
{
    private const int TestTimeoutMs = 60_000;

    private static string Nodes(params (string Host, int Port, int Priority)[] nodes) =>
        string.Join("\n", nodes.Select(n => $"          - {{host: {n.Host}, port: {n.Port}, weight: 1, priority: {n.Priority}}}"));

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Priority_failover_walks_three_levels_in_order()
    {
        await using var middle = TestServer.Named("M");
        await using var low = TestServer.Named("L");
        using var closedTop = Ports.ReserveClosed(out var topPort);
        using var closedMiddle = Ports.ReserveClosed(out var closedMiddlePort);
        var port = Ports.GetFree();
        string Routes(int middlePort) => $$"""
            upstreams:
              - id: u
                nodes:
            {{Nodes(("127.0.0.1", topPort, 20), ("127.0.0.1", middlePort, 10), ("127.0.0.1", low.Port, 0))}}
            stream_routes:
              - id: 1
                upstream_id: u
            #END
            """;
        await using var gateway = await GatewayProcess.StartAsync(Configs.Gateway(port), Routes(middle.Port));
        // The top level refuses: every connection lands on the middle one, never on the lowest.
        for (var i = 0; i < 4; i++)
        {
            Assert.Equal("M", await GatewayProcess.FirstLineAsync(port));
        }
        Assert.Equal(0, low.Accepted);

        // The middle level refuses too: now the lowest serves.
        gateway.ReplaceStandalone(Routes(closedMiddlePort));
        await WaitUntilAsync(async () => await GatewayProcess.FirstLineAsync(port) == "L", "the lowest priority level serves");
        Assert.Equal("L", await GatewayProcess.FirstLineAsync(port));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Retries_run_out_and_the_client_is_closed_without_reaching_a_lower_level()
    {
        await using var live = TestServer.Named("L");
        using var closedA = Ports.ReserveClosed(out var portA);
        using var closedB = Ports.ReserveClosed(out var portB);
        var port = Ports.GetFree();
        string Routes(int retries) => $$"""
            stream_routes:
              - id: 1
                upstream:
                  retries: {{retries}}
                  nodes:
            {{Nodes(("127.0.0.1", portA, 20), ("127.0.0.1", portB, 10), ("127.0.0.1", live.Port, 0))}}
            #END
            """;
        await using var gateway = await GatewayProcess.StartAsync(Configs.Gateway(port), Routes(1));
        // Two attempts (the first and one retry) both refused: the third node is never tried.
        using (var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port))
        {
            Assert.Empty(await client.ReceiveToEndAsync());
        }
        Assert.Equal(0, live.Accepted);

        gateway.ReplaceStandalone(Routes(2));
        await WaitUntilAsync(async () => await FirstLineOrNullAsync(port) == "L", "a second retry reaches the third node");
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Chash_keeps_each_client_on_its_node_across_changes_that_keep_the_node()
    {
        await using var a = TestServer.Named("A");
        await using var b = TestServer.Named("B");
        await using var c = TestServer.Named("C");
        await using var d = TestServer.Named("D");
        var port = Ports.GetFree();
        var wildcard = $"0.0.0.0:{port}";
        string Routes(params TestServer[] nodes) => $$"""
            upstreams:
              - id: u
                type: chash
                hash_on: vars
                key: remote_addr
                nodes:
            {{string.Join("\n", nodes.Select(n => $"          \"{n.Node}\": 1"))}}
            stream_routes:
              - id: 1
                upstream_id: u
            #END
            """;
        await using var gateway = await GatewayProcess.StartAsync(Configs.Gateway([wildcard]), Routes(a, b, c));
        var clients = Enumerable.Range(2, 40).Select(i => IPAddress.Parse($"127.0.0.{i}")).ToArray();
        var before = await MapAsync(port, clients);
        Assert.True(before.Values.Distinct().Count() == 3, $"40 clients over 3 nodes use them all: {string.Join(",", before.Values)}");
        // The same client, asked again, is on the same node.
        Assert.Equal(before, await MapAsync(port, clients));

        // C goes: only C's clients move.
        gateway.ReplaceStandalone(Routes(a, b));
        await WaitUntilAsync(async () => (await MapAsync(port, clients)).Values.All(n => n != "C"), "C's clients moved");
        var withoutC = await MapAsync(port, clients);
        foreach (var client in clients.Where(x => before[x] != "C"))
        {
            Assert.Equal(before[client], withoutC[client]);
        }

        // D comes: a client either stays or moves to D, never between A and B.
        gateway.ReplaceStandalone(Routes(a, b, d));
        await WaitUntilAsync(async () => (await MapAsync(port, clients)).Values.Any(n => n == "D"), "some clients moved to D");
        var withD = await MapAsync(port, clients);
        foreach (var client in clients)
        {
            Assert.True(withD[client] == withoutC[client] || withD[client] == "D", $"{client} moved from {withoutC[client]} to {withD[client]}");
        }
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_subpath_patch_of_nodes_reaches_live_traffic_and_keeps_the_kept_nodes_connection_counts()
    {
        // Servers that keep connections open: least_conn counts them.
        await using var a = TestServer.Named("A");
        await using var b = TestServer.Named("B");
        await using var gateway = await AdminGateway.StartAsync();
        await gateway.WriteAndWaitAsync(HttpMethod.Put, "upstreams/u", $$$"""{"type": "least_conn", "nodes": {"{{{a.Node}}}": 1}}""");
        await gateway.WriteAndWaitAsync(HttpMethod.Put, "stream_routes/r", """{"upstream_id": "u"}""");
        var held = new List<Socket>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, gateway.ProxyPort);
                held.Add(client);
                Assert.Equal("A", await AdminGateway.ReadLineOrNullAsync(client));
            }

            // B joins through the nodes sub-path; A keeps its three open connections and its count of them.
            var patched = await gateway.PatchAsync("upstreams/u/nodes", $$$"""{"{{{a.Node}}}": 1, "{{{b.Node}}}": 1}""");
            Assert.Equal(HttpStatusCode.OK, patched.Status);
            await gateway.WaitForRevisionAsync((await gateway.GetAsync("upstreams/u")).ModifiedIndex);
            for (var i = 0; i < 3; i++)
            {
                var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, gateway.ProxyPort);
                held.Add(client);
                Assert.Equal("B", await AdminGateway.ReadLineOrNullAsync(client));
            }
            // Three each now: both nodes take new connections again.
            var next = new HashSet<string?>();
            for (var i = 0; i < 2; i++)
            {
                var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, gateway.ProxyPort);
                held.Add(client);
                next.Add(await AdminGateway.ReadLineOrNullAsync(client));
            }
            Assert.Equal(["A", "B"], next.Order());
        }
        finally
        {
            foreach (var socket in held)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>Which node's name each client address gets (one connection from each, bound to that source).</summary>
    private static async Task<Dictionary<IPAddress, string>> MapAsync(int port, IPAddress[] clients)
    {
        var map = new Dictionary<IPAddress, string>();
        foreach (var client in clients)
        {
            map[client] = await GatewayProcess.FirstLineAsync(IPAddress.Loopback, port, client);
        }
        return map;
    }

    private static async Task<string?> FirstLineOrNullAsync(int port)
    {
        using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
        return await AdminGateway.ReadLineOrNullAsync(client);
    }

    /// <summary>Polls (bounded) until the condition holds: a reload is applied asynchronously.</summary>
    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        for (var i = 0; i < 150; i++)
        {
            if (await condition())
            {
                return;
            }
            await Task.Delay(100);
        }
        Assert.Fail($"timed out waiting until {what}");
    }
}
