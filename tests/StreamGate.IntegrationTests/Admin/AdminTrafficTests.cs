using System.Net;
using StreamGate.IntegrationTests.Infrastructure;

namespace StreamGate.IntegrationTests.Admin;

/// <summary>
/// Admin writes change what real connections get: each test writes through the admin API, waits until the
/// control API reports that revision served, then connects once and checks where the connection went.
/// </summary>
public sealed class AdminTrafficTests
{
    private const int TestTimeoutMs = 60_000;

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Put_route_proxies_and_delete_refuses()
    {
        await using var a = TestServer.Named("A");
        await using var gateway = await AdminGateway.StartAsync();
        Assert.Null(await gateway.FirstLineAsync());

        await gateway.WriteAndWaitAsync(HttpMethod.Put, "upstreams/ua", $$"""{"nodes": {"{{a.Node}}": 1} }""");
        // An upstream alone routes nothing.
        Assert.Null(await gateway.FirstLineAsync());

        await gateway.WriteAndWaitAsync(HttpMethod.Put, "stream_routes/r1", """{"upstream_id": "ua"}""");
        using (var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, gateway.ProxyPort))
        {
            Assert.Equal("A", await AdminGateway.ReadLineOrNullAsync(client));
            await client.SendTextAsync("ping");
            Assert.Equal("ping", await client.ReceiveTextAsync(4));
        }

        var deleted = await gateway.DeleteAsync("stream_routes/r1");
        Assert.Equal(HttpStatusCode.OK, deleted.Status);
        await gateway.WaitForControlAsync("v1/stream_routes/r1", (status, _) => status == HttpStatusCode.NotFound, "route r1 deleted");
        Assert.Null(await gateway.FirstLineAsync());
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task New_connections_follow_a_route_to_a_new_upstream_and_open_ones_stay()
    {
        await using var a = TestServer.Named("A");
        await using var b = TestServer.Named("B");
        await using var gateway = await AdminGateway.StartAsync();
        await gateway.WriteAndWaitAsync(HttpMethod.Put, "upstreams/ua", $$"""{"nodes": {"{{a.Node}}": 1} }""");
        await gateway.WriteAndWaitAsync(HttpMethod.Put, "stream_routes/r1", """{"upstream_id": "ua"}""");
        using var open = await GatewayProcess.ConnectAsync(IPAddress.Loopback, gateway.ProxyPort);
        Assert.Equal("A", await AdminGateway.ReadLineOrNullAsync(open));

        // PUT a new upstream, then point the route at it.
        await gateway.WriteAndWaitAsync(HttpMethod.Put, "upstreams/ub", $$"""{"nodes": {"{{b.Node}}": 1} }""");
        Assert.Equal("A", await gateway.FirstLineAsync());
        await gateway.WriteAndWaitAsync(HttpMethod.Put, "stream_routes/r1", """{"upstream_id": "ub"}""");
        Assert.Equal("B", await gateway.FirstLineAsync());
        Assert.Equal("B", await gateway.FirstLineAsync());

        // The connection opened before the change still talks to A.
        await open.SendTextAsync("still");
        Assert.Equal("still", await open.ReceiveTextAsync(5));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Replacing_or_patching_an_upstream_moves_new_connections()
    {
        await using var a = TestServer.Named("A");
        await using var b = TestServer.Named("B");
        await using var gateway = await AdminGateway.StartAsync();
        await gateway.WriteAndWaitAsync(HttpMethod.Put, "upstreams/u", $$"""{"nodes": {"{{a.Node}}": 1} }""");
        await gateway.WriteAndWaitAsync(HttpMethod.Put, "stream_routes/r", """{"upstream_id": "u"}""");
        Assert.Equal("A", await gateway.FirstLineAsync());

        await gateway.WriteAndWaitAsync(HttpMethod.Put, "upstreams/u", $$"""{"nodes": {"{{b.Node}}": 1} }""");
        Assert.Equal("B", await gateway.FirstLineAsync());

        await gateway.WriteAndWaitAsync(HttpMethod.Patch, "upstreams/u", $$"""{"nodes": {"{{b.Node}}": null, "{{a.Node}}": 1} }""");
        Assert.Equal("A", await gateway.FirstLineAsync());
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Routes_through_services_follow_service_changes()
    {
        await using var a = TestServer.Named("A");
        await using var b = TestServer.Named("B");
        await using var c = TestServer.Named("C");
        await using var gateway = await AdminGateway.StartAsync();
        await gateway.WriteAndWaitAsync(HttpMethod.Put, "upstreams/ua", $$"""{"nodes": {"{{a.Node}}": 1} }""");
        await gateway.WriteAndWaitAsync(HttpMethod.Put, "services/s", """{"upstream_id": "ua"}""");
        await gateway.WriteAndWaitAsync(HttpMethod.Put, "stream_routes/r", """{"service_id": "s", "remote_addr": "127.0.0.0/8"}""");
        Assert.Equal("A", await gateway.FirstLineAsync());

        // PATCH the service to an inline upstream (upstream_id removed by null).
        await gateway.WriteAndWaitAsync(HttpMethod.Patch, "services/s", $$"""{"upstream_id": null, "upstream": {"nodes": {"{{b.Node}}": 1} } }""");
        Assert.Equal("B", await gateway.FirstLineAsync());

        // The route's own upstream wins over the service's.
        await gateway.WriteAndWaitAsync(HttpMethod.Put, "stream_routes/r", $$"""{"service_id": "s", "upstream": {"nodes": {"{{c.Node}}": 1} } }""");
        Assert.Equal("C", await gateway.FirstLineAsync());

        // Force-deleting the service leaves a route that cannot be served: its connections are refused.
        await gateway.WriteAndWaitAsync(HttpMethod.Put, "stream_routes/r", """{"service_id": "s"}""");
        Assert.Equal("B", await gateway.FirstLineAsync());
        Assert.Equal(HttpStatusCode.OK, (await gateway.DeleteAsync("services/s?force=true")).Status);
        await gateway.WaitForControlAsync("v1/config", (_, body) => body?["services"]?.GetValue<int>() == 0 && body["stream_routes"]?.GetValue<int>() == 0, "service s deleted");
        Assert.Null(await gateway.FirstLineAsync());
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Routes_match_on_their_fields_and_are_tried_in_creation_order()
    {
        await using var a = TestServer.Named("A");
        await using var b = TestServer.Named("B");
        await using var gateway = await AdminGateway.StartAsync();
        await gateway.WriteAndWaitAsync(HttpMethod.Put, "stream_routes/only-5", $$"""{"remote_addr": "127.0.0.5", "upstream": {"nodes": {"{{a.Node}}": 1} } }""");
        Assert.Equal("A", await gateway.FirstLineAsync(IPAddress.Parse("127.0.0.5")));
        Assert.Null(await gateway.FirstLineAsync(IPAddress.Parse("127.0.0.6")));

        await gateway.WriteAndWaitAsync(HttpMethod.Put, "stream_routes/rest", $$"""{"server_port": {{gateway.ProxyPort}}, "upstream": {"nodes": {"{{b.Node}}": 1} } }""");
        Assert.Equal("A", await gateway.FirstLineAsync(IPAddress.Parse("127.0.0.5")));
        Assert.Equal("B", await gateway.FirstLineAsync(IPAddress.Parse("127.0.0.6")));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Configuration_survives_a_restart_on_the_same_store()
    {
        await using var a = TestServer.Named("A");
        var storeDirectory = Path.Combine(Path.GetTempPath(), "streamgate-it-store-" + Guid.NewGuid().ToString("N")[..12]);
        var options = new AdminGatewayOptions { SqlitePath = Path.Combine(storeDirectory, "streamgate.db") };
        try
        {
            await using (var first = await AdminGateway.StartAsync(options))
            {
                await first.WriteAndWaitAsync(HttpMethod.Put, "upstreams/ua", $$"""{"nodes": {"{{a.Node}}": 1} }""");
                await first.WriteAndWaitAsync(HttpMethod.Put, "stream_routes/r1", """{"upstream_id": "ua"}""");
                Assert.Equal("A", await first.FirstLineAsync());
                first.Process.Terminate();
                Assert.Equal(0, await first.Process.WaitForExitAsync(TimeSpan.FromSeconds(20)));
            }
            await using var second = await AdminGateway.StartAsync(options);
            Assert.Equal("A", await second.FirstLineAsync());
            var route = await second.GetAsync("stream_routes/r1");
            Assert.Equal(HttpStatusCode.OK, route.Status);
            Assert.Equal("ua", route.Body!["value"]!["upstream_id"]!.GetValue<string>());
            Assert.True(await second.RevisionAsync() >= route.ModifiedIndex);
        }
        finally
        {
            Directory.Delete(storeDirectory, recursive: true);
        }
    }
}
