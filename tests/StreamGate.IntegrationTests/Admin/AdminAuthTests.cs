using System.Net;
using System.Text.Json.Nodes;

namespace StreamGate.IntegrationTests.Admin;

/// <summary>X-API-KEY with the admin and viewer roles, APISIX's 401 bodies, and allow_admin, over real HTTP.</summary>
public sealed class AdminAuthTests(AdminGatewayFixture fixture) : IClassFixture<AdminGatewayFixture>
{
    private const int TestTimeoutMs = 60_000;

    private AdminGateway Gateway => fixture.Gateway;

    private static void AssertTokenFailure(AdminResponse response, string description)
    {
        Assert.True(response.Status == HttpStatusCode.Unauthorized, $"expected 401, got {response}");
        Assert.True(
            JsonNode.DeepEquals(new JsonObject { ["error_msg"] = "failed to check token", ["description"] = description }, response.Body),
            response.Text);
    }

    private static readonly (HttpMethod Method, string Path, string? Body)[] Requests =
    [
        (HttpMethod.Get, "stream_routes", null),
        (HttpMethod.Get, "upstreams/auth-u", null),
        (HttpMethod.Put, "upstreams/auth-u", """{"nodes": {"127.0.0.1:1": 1}}"""),
        (HttpMethod.Post, "upstreams", """{"nodes": {"127.0.0.1:1": 1}}"""),
        (HttpMethod.Patch, "upstreams/auth-u", """{"name": "x"}"""),
        (HttpMethod.Delete, "upstreams/auth-u", null),
        (HttpMethod.Get, "plugins/list?subsystem=stream", null),
        (HttpMethod.Get, "schema/stream_route", null),
        (HttpMethod.Put, "plugin_metadata/syslog", """{"log_format": {}}"""),
    ];

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Requests_without_a_key_are_401_missing_apikey()
    {
        foreach (var (method, path, body) in Requests)
        {
            AssertTokenFailure(await Gateway.SendAsync(method, path, body, key: null), "missing apikey");
        }
        AssertTokenFailure(await Gateway.SendAsync(HttpMethod.Get, "upstreams", key: ""), "missing apikey");
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Requests_with_a_wrong_key_are_401_wrong_apikey()
    {
        foreach (var (method, path, body) in Requests)
        {
            AssertTokenFailure(await Gateway.SendAsync(method, path, body, key: "not-the-key"), "wrong apikey");
        }
        // A prefix of the real key is still wrong.
        AssertTokenFailure(await Gateway.GetAsync("upstreams", key: AdminGateway.AdminKey[..^1]), "wrong apikey");
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Viewer_may_read_but_not_write()
    {
        Assert.Equal(HttpStatusCode.Created, (await Gateway.PutAsync("upstreams/viewer-u", """{"nodes": {"127.0.0.1:1": 1}, "name": "kept"}""")).Status);

        var list = await Gateway.GetAsync("upstreams", key: AdminGateway.ViewerKey);
        Assert.Equal(HttpStatusCode.OK, list.Status);
        Assert.Contains(list.Body!["list"]!.AsArray(), i => i!["value"]!["id"]!.GetValue<string>() == "viewer-u");
        Assert.Equal(HttpStatusCode.OK, (await Gateway.GetAsync("upstreams/viewer-u", key: AdminGateway.ViewerKey)).Status);
        Assert.Equal(HttpStatusCode.OK, (await Gateway.GetAsync("plugins/list?subsystem=stream", key: AdminGateway.ViewerKey)).Status);
        Assert.Equal(HttpStatusCode.OK, (await Gateway.GetAsync("schema/stream_route", key: AdminGateway.ViewerKey)).Status);

        var writes = new (HttpMethod Method, string Path, string? Body)[]
        {
            (HttpMethod.Put, "upstreams/viewer-u", """{"nodes": {"127.0.0.1:2": 1}}"""),
            (HttpMethod.Put, "upstreams/viewer-new", """{"nodes": {"127.0.0.1:2": 1}}"""),
            (HttpMethod.Post, "upstreams", """{"nodes": {"127.0.0.1:2": 1}}"""),
            (HttpMethod.Patch, "upstreams/viewer-u", """{"name": "changed"}"""),
            (HttpMethod.Delete, "upstreams/viewer-u", null),
            (HttpMethod.Put, "stream_routes/viewer-r", """{"upstream_id": "viewer-u"}"""),
            (HttpMethod.Put, "plugin_metadata/syslog", """{"log_format": {}}"""),
        };
        foreach (var (method, path, body) in writes)
        {
            AssertTokenFailure(await Gateway.SendAsync(method, path, body, key: AdminGateway.ViewerKey), "invalid method for role viewer");
        }
        var after = await Gateway.GetAsync("upstreams/viewer-u");
        Assert.Equal("kept", after.Body!["value"]!["name"]!.GetValue<string>());
        Assert.Equal("127.0.0.1:1", after.Body["value"]!["nodes"]!.AsObject().Single().Key);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("upstreams/viewer-new")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("stream_routes/viewer-r")).Status);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task The_key_may_also_come_as_the_api_key_query_argument()
    {
        Assert.Equal(HttpStatusCode.OK, (await Gateway.GetAsync($"upstreams?api_key={AdminGateway.AdminKey}", key: null)).Status);
        AssertTokenFailure(await Gateway.GetAsync("upstreams?api_key=nope", key: null), "wrong apikey");
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Callers_outside_allow_admin_are_403_even_with_the_admin_key()
    {
        await using var gateway = await AdminGateway.StartAsync(new AdminGatewayOptions { AllowAdmin = "[127.0.0.2/32]" });

        // From 127.0.0.1: refused before the key is looked at.
        foreach (var key in new[] { AdminGateway.AdminKey, null })
        {
            var refused = await gateway.GetAsync("upstreams", key);
            Assert.True(refused.Status == HttpStatusCode.Forbidden, refused.ToString());
            Assert.Contains("allow_admin", refused.ErrorMessage, StringComparison.Ordinal);
        }
        var write = await gateway.PutAsync("upstreams/outside", """{"nodes": {"127.0.0.1:1": 1}}""");
        Assert.Equal(HttpStatusCode.Forbidden, write.Status);

        // From 127.0.0.2, inside allow_admin: the key decides as usual.
        using var inside = AdminGateway.CreateClient(gateway.AdminPort, IPAddress.Parse("127.0.0.2"));
        Assert.Equal(HttpStatusCode.OK, (await AdminGateway.SendAsync(inside, HttpMethod.Get, "upstreams")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await AdminGateway.SendAsync(inside, HttpMethod.Get, "upstreams/outside")).Status);
        AssertTokenFailure(await AdminGateway.SendAsync(inside, HttpMethod.Get, "upstreams", key: null), "missing apikey");

        // Another address of the loopback network, outside the /32.
        using var neighbour = AdminGateway.CreateClient(gateway.AdminPort, IPAddress.Parse("127.0.0.3"));
        Assert.Equal(HttpStatusCode.Forbidden, (await AdminGateway.SendAsync(neighbour, HttpMethod.Get, "upstreams")).Status);
    }
}
