using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using StreamGate.IntegrationTests.Infrastructure;

namespace StreamGate.IntegrationTests;

/// <summary>The embedded store's lifecycle: seeding a new store, and what open connections do when their route changes.</summary>
public sealed class StoreLifecycleTests
{
    private const int TestTimeoutMs = 60_000;
    private const string Key = "store-lifecycle-test-key";

    private sealed record Node(GatewayProcess Gateway, int Port, HttpClient Admin, int ControlPort) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            Admin.Dispose();
            await Gateway.DisposeAsync();
        }
    }

    private static async Task<Node> StartAsync(string extraStreamProxy = "", string seedYaml = "")
    {
        var port = Ports.GetFree();
        var adminPort = Ports.GetFree();
        var controlPort = Ports.GetFree();
        var seedLine = seedYaml.Length > 0 ? "    seed: apisix.yaml" : "";
        var config = $"""
            apisix:
              proxy_mode: stream
              stream_proxy:
                tcp: ["127.0.0.1:{port}"]
            {extraStreamProxy}
              control:
                ip: 127.0.0.1
                port: {controlPort}
            deployment:
              role: traditional
              role_traditional:
                config_provider: sqlite
              sqlite:
                path: data/store.db
            {seedLine}
              admin:
                admin_key:
                  - name: admin
                    key: {Key}
                    role: admin
                admin_listen:
                  ip: 127.0.0.1
                  port: {adminPort}
            """;
        var gateway = await GatewayProcess.StartAsync(config, seedYaml.Length > 0 ? seedYaml : "stream_routes: []\n#END\n");
        var admin = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{adminPort}/apisix/admin/"), Timeout = TimeSpan.FromSeconds(10) };
        admin.DefaultRequestHeaders.Add("X-API-KEY", Key);
        return new Node(gateway, port, admin, controlPort);
    }

    private static async Task<long> PutAsync(Node node, string path, string json)
    {
        using var response = await node.Admin.PutAsync(path, new StringContent(json));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.IsSuccessStatusCode, body);
        using var get = await node.Admin.GetAsync(path);
        return (await get.Content.ReadFromJsonAsync<JsonObject>())!["modifiedIndex"]!.GetValue<long>();
    }

    /// <summary>Waits (bounded) until the data plane has applied the store revision <paramref name="revision"/>.</summary>
    private static async Task WaitForRevisionAsync(Node node, long revision)
    {
        using var control = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        for (var i = 0; i < 100; i++)
        {
            var config = await control.GetFromJsonAsync<JsonObject>($"http://127.0.0.1:{node.ControlPort}/v1/config");
            if (config!["revision"]!.GetValue<long>() >= revision)
            {
                return;
            }
            await Task.Delay(50);
        }
        Assert.Fail($"revision {revision} was not applied");
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_new_store_is_seeded_from_the_standalone_file_once()
    {
        await using var a = TestServer.Named("A");
        var seed = $$"""
            stream_routes:
              - id: seeded
                upstream_id: a
            upstreams:
              - id: a
                nodes: {"{{a.Node}}": 1}
            #END
            """;
        await using var node = await StartAsync(seedYaml: seed);
        using (var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, node.Port))
        {
            Assert.Equal("A\n", await client.ReceiveTextAsync(2));
        }
        var route = await node.Admin.GetFromJsonAsync<JsonObject>("stream_routes/seeded");
        Assert.Equal("a", route!["value"]!["upstream_id"]!.GetValue<string>());
        Assert.Contains("imported 2 objects", node.Gateway.Output, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Without_drain_a_deleted_routes_open_connection_keeps_working()
    {
        await using var upstream = TestServer.Echo();
        await using var node = await StartAsync();
        await PutAsync(node, "upstreams/u", $$"""{"nodes": {"{{upstream.Node}}": 1} }""");
        var revision = await PutAsync(node, "stream_routes/r", """{"upstream_id": "u"}""");
        await WaitForRevisionAsync(node, revision);
        using var open = await GatewayProcess.ConnectAsync(IPAddress.Loopback, node.Port);
        await open.SendTextAsync("one");
        Assert.Equal("one", await open.ReceiveTextAsync(3));

        using var deleted = await node.Admin.DeleteAsync("stream_routes/r");
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        await WaitForRevisionAsync(node, revision + 1);

        using var refused = await GatewayProcess.ConnectAsync(IPAddress.Loopback, node.Port);
        Assert.Empty(await refused.ReceiveToEndAsync());
        await open.SendTextAsync("two");
        Assert.Equal("two", await open.ReceiveTextAsync(3));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Drain_on_change_closes_connections_of_deleted_and_changed_routes_only()
    {
        await using var first = TestServer.Echo();
        await using var second = TestServer.Echo();
        await using var third = TestServer.Echo();
        await using var node = await StartAsync(extraStreamProxy: "    drain_on_change: 1s");
        await PutAsync(node, "upstreams/u", $$"""{"nodes": {"{{first.Node}}": 1} }""");
        await PutAsync(node, "stream_routes/deleted", """{"remote_addr": "127.0.0.1", "upstream_id": "u"}""");
        await PutAsync(node, "stream_routes/changed", $$"""{"remote_addr": "127.0.0.2", "upstream": {"nodes": {"{{second.Node}}": 1} } }""");
        var revision = await PutAsync(node, "stream_routes/kept", """{"remote_addr": "127.0.0.3", "upstream_id": "u"}""");
        await WaitForRevisionAsync(node, revision);

        using var onDeleted = await GatewayProcess.ConnectAsync(IPAddress.Loopback, node.Port, IPAddress.Parse("127.0.0.1"));
        using var onChanged = await GatewayProcess.ConnectAsync(IPAddress.Loopback, node.Port, IPAddress.Parse("127.0.0.2"));
        using var onKept = await GatewayProcess.ConnectAsync(IPAddress.Loopback, node.Port, IPAddress.Parse("127.0.0.3"));
        foreach (var client in new[] { onDeleted, onChanged, onKept })
        {
            await client.SendTextAsync("ping");
            Assert.Equal("ping", await client.ReceiveTextAsync(4));
        }

        using var deleted = await node.Admin.DeleteAsync("stream_routes/deleted");
        Assert.Equal(HttpStatusCode.OK, deleted.StatusCode);
        await PutAsync(node, "stream_routes/changed", $$"""{"remote_addr": "127.0.0.2", "upstream": {"nodes": {"{{third.Node}}": 1} } }""");
        Assert.Equal(ConnectionEnd.Closed, await onDeleted.WaitForEndAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(ConnectionEnd.Closed, await onChanged.WaitForEndAsync(TimeSpan.FromSeconds(20)));

        // The kept route's connection is untouched by the changes and by the drain.
        await onKept.SendTextAsync("pong");
        Assert.Equal("pong", await onKept.ReceiveTextAsync(4));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Drain_on_change_keeps_connections_when_a_node_is_added_and_drains_when_their_node_is_removed()
    {
        await using var first = TestServer.Echo();
        await using var second = TestServer.Echo();
        await using var node = await StartAsync(extraStreamProxy: "    drain_on_change: 1s");
        await PutAsync(node, "upstreams/u", $$"""{"nodes": {"{{first.Node}}": 1} }""");
        var revision = await PutAsync(node, "stream_routes/r", """{"upstream_id": "u"}""");
        await WaitForRevisionAsync(node, revision);
        using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, node.Port);
        await client.SendTextAsync("one");
        Assert.Equal("one", await client.ReceiveTextAsync(3));

        // A node added to the upstream: the connection's node is still there, so it is no drain case.
        revision = await PutAsync(node, "upstreams/u", $$"""{"nodes": {"{{first.Node}}": 1, "{{second.Node}}": 1} }""");
        await WaitForRevisionAsync(node, revision);
        // Nothing announces that nothing happened: wait past the 1 s drain period, then the connection must still work.
        await Task.Delay(TimeSpan.FromSeconds(2.5));
        await client.SendTextAsync("two");
        Assert.Equal("two", await client.ReceiveTextAsync(3));

        // Its node removed: drained after the period.
        revision = await PutAsync(node, "upstreams/u", $$"""{"nodes": {"{{second.Node}}": 1} }""");
        await WaitForRevisionAsync(node, revision);
        Assert.Equal(ConnectionEnd.Closed, await client.WaitForEndAsync(TimeSpan.FromSeconds(20)));
    }
}
