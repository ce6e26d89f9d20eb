using System.Net;
using System.Text.Json.Nodes;

namespace StreamGate.IntegrationTests.Admin;

/// <summary>The read-only control API: what the data plane serves now, and at which store revision.</summary>
public sealed class ControlApiTests
{
    private const int TestTimeoutMs = 60_000;

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Config_reports_the_served_revision_and_counts()
    {
        await using var gateway = await AdminGateway.StartAsync();
        var (status, initial) = await gateway.ControlAsync("v1/config");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(0, initial!["revision"]!.GetValue<long>());
        Assert.Equal(0, initial["stream_routes"]!.GetValue<int>());
        Assert.True(initial["applied_at"]!.GetValue<long>() > 0);

        await gateway.WriteAndWaitAsync(HttpMethod.Put, "upstreams/u1", """{"nodes": {"127.0.0.1:1": 1}}""");
        await gateway.WriteAndWaitAsync(HttpMethod.Put, "services/s1", """{"upstream_id": "u1"}""");
        await gateway.WriteAndWaitAsync(HttpMethod.Put, "stream_routes/r1", """{"service_id": "s1", "server_port": 9100}""");
        var route = await gateway.GetAsync("stream_routes/r1");
        var (_, config) = await gateway.ControlAsync("v1/config");
        Assert.Equal(route.ModifiedIndex, config!["revision"]!.GetValue<long>());
        Assert.Equal(1, config["stream_routes"]!.GetValue<int>());
        Assert.Equal(1, config["upstreams"]!.GetValue<int>());
        Assert.Equal(1, config["services"]!.GetValue<int>());
        Assert.True(config["applied_at"]!.GetValue<long>() >= initial["applied_at"]!.GetValue<long>());

        // Every write moves the revision, a delete included; refused writes do not.
        Assert.Equal(HttpStatusCode.BadRequest, (await gateway.PutAsync("stream_routes/bad", """{"upstream_id": "missing"}""")).Status);
        Assert.Equal(HttpStatusCode.OK, (await gateway.DeleteAsync("stream_routes/r1")).Status);
        await gateway.WaitForRevisionAsync(route.ModifiedIndex + 1);
        var (_, afterDelete) = await gateway.ControlAsync("v1/config");
        Assert.Equal(route.ModifiedIndex + 1, afterDelete!["revision"]!.GetValue<long>());
        Assert.Equal(0, afterDelete["stream_routes"]!.GetValue<int>());
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Stream_routes_upstreams_and_services_show_what_is_served()
    {
        await using var gateway = await AdminGateway.StartAsync();
        await gateway.WriteAndWaitAsync(HttpMethod.Put, "upstreams/u1", """{"nodes": {"127.0.0.1:7001": 2}, "name": "pool"}""");
        await gateway.WriteAndWaitAsync(HttpMethod.Put, "services/s1", """{"upstream_id": "u1", "name": "svc"}""");
        await gateway.WriteAndWaitAsync(HttpMethod.Put, "stream_routes/r1", """{"upstream_id": "u1", "remote_addr": "127.0.0.0/8", "server_port": 9100}""");
        await gateway.WriteAndWaitAsync(HttpMethod.Put, "stream_routes/r2", """{"service_id": "s1"}""");

        var (status, routes) = await gateway.ControlAsync("v1/stream_routes");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal(["r1", "r2"], routes!.AsArray().Select(r => r!["id"]!.GetValue<string>()));
        var (routeStatus, r1) = await gateway.ControlAsync("v1/stream_routes/r1");
        Assert.Equal(HttpStatusCode.OK, routeStatus);
        Assert.Equal("127.0.0.0/8", r1!["remote_addr"]!.GetValue<string>());
        Assert.Equal(9100, r1["server_port"]!.GetValue<int>());
        Assert.Equal("u1", r1["upstream_id"]!.GetValue<string>());
        var (_, r2) = await gateway.ControlAsync("v1/stream_routes/r2");
        Assert.Equal("s1", r2!["service_id"]!.GetValue<string>());
        var (missingStatus, _) = await gateway.ControlAsync("v1/stream_routes/none");
        Assert.Equal(HttpStatusCode.NotFound, missingStatus);

        var (_, upstreams) = await gateway.ControlAsync("v1/upstreams");
        var upstream = Assert.Single(upstreams!.AsArray())!;
        Assert.Equal("u1", upstream["id"]!.GetValue<string>());
        var node = Assert.Single(upstream["nodes"]!.AsArray())!;
        Assert.Equal("127.0.0.1", node["host"]!.GetValue<string>());
        Assert.Equal(7001, node["port"]!.GetValue<int>());
        Assert.Equal(2, node["weight"]!.GetValue<int>());
        var (_, services) = await gateway.ControlAsync("v1/services");
        Assert.Equal("s1", Assert.Single(services!.AsArray())!["id"]!.GetValue<string>());

        // The control API is read-only and needs no key; the admin API is not served on its port.
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{gateway.ControlPort}/"), Timeout = TimeSpan.FromSeconds(15) };
        using var put = await http.PutAsync(new Uri("v1/stream_routes/r3", UriKind.Relative), new StringContent("{}"));
        Assert.True(put.StatusCode is HttpStatusCode.MethodNotAllowed or HttpStatusCode.NotFound, put.StatusCode.ToString());
        using var admin = await http.GetAsync(new Uri("apisix/admin/stream_routes", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, admin.StatusCode);
        var (_, unchanged) = await gateway.ControlAsync("v1/stream_routes");
        Assert.Equal(2, unchanged!.AsArray().Count);
        Assert.IsType<JsonArray>(unchanged);
    }
}
