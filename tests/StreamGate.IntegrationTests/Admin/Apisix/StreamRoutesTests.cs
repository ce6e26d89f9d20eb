using System.Net;
using static StreamGate.IntegrationTests.Admin.Apisix.ApisixPort;

namespace StreamGate.IntegrationTests.Admin.Apisix;

/// <summary>
/// apache/apisix t/admin/stream-routes.t and stream-routes-disable.t on the real gateway. stream-routes.t TEST 1
/// (a repeated "desc") is in AdminApisixPortTests; the blocks not ported are listed in docs/admin-api.md.
/// </summary>
public sealed class StreamRoutesTests(AdminGatewayFixture fixture) : IClassFixture<AdminGatewayFixture>
{
    private AdminGateway Gateway => fixture.Gateway;

    private const string Route = """{"remote_addr": "127.0.0.1", "upstream": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}}""";

    /// <summary>stream-routes.t TEST 1 (times set), TEST 2 (get), TEST 3 (delete).</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Stream_routes_t_TEST_1_to_3_set_get_delete()
    {
        const string Value = """{"remote_addr": "127.0.0.1", "upstream": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}, "desc": "new route"}""";
        var put = await Gateway.PassesAsync(Put, "stream_routes/sr1", Value, $$"""{"value": {{Value}}, "key": "/apisix/stream_routes/sr1"}""");
        Assert.True(put.Time("create_time") > 0 && put.Time("update_time") > 0, put.Text);
        await Gateway.PassesAsync(Get, "stream_routes/sr1", null, $$"""{"value": {{Value}}, "key": "/apisix/stream_routes/sr1"}""");
        await Gateway.PassesAsync(Delete, "stream_routes/sr1");
        await Gateway.FailsAsync(Get, "stream_routes/sr1", null, HttpStatusCode.NotFound);
    }

    /// <summary>stream-routes.t TEST 4: POST makes the id, with the times; the route is then deleted by it.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Stream_routes_t_TEST_4_post_and_delete()
    {
        const string Value = """{"remote_addr": "127.0.0.1", "upstream": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}, "desc": "new route"}""";
        var post = await Gateway.PassesAsync(Post, "stream_routes", Value, $$"""{"value": {{Value}}}""");
        var id = post.Body!["key"]!.GetValue<string>()["/apisix/stream_routes/".Length..];
        var stored = await Gateway.PassesAsync(Get, $"stream_routes/{id}");
        Assert.True(stored.Time("create_time") > 0 && stored.Time("update_time") > 0, stored.Text);
        Assert.Equal(id, stored.Body!["value"]!["id"]!.GetValue<string>());
        await Gateway.PassesAsync(Delete, $"stream_routes/{id}");
    }

    /// <summary>stream-routes.t TEST 8, 9 (a string id, deleted) and TEST 10 (an invalid one).</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Stream_routes_t_TEST_8_to_10_string_ids()
    {
        await Gateway.PassesAsync(Put, "stream_routes/a-b-c-ABC_0123", Route);
        await Gateway.PassesAsync(Delete, "stream_routes/a-b-c-ABC_0123");
        await Gateway.FailsAsync(Put, "stream_routes/*invalid", Route, HttpStatusCode.BadRequest);
    }

    /// <summary>stream-routes.t TEST 11 to 14: no unwanted data in the answers to POST, PUT, GET and DELETE.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Stream_routes_t_TEST_11_to_14_no_unwanted_data()
    {
        var post = await Gateway.PassesAsync(Post, "stream_routes", Route);
        await Gateway.PassesAsync(Delete, "stream_routes/" + post.Body!["value"]!["id"]!.GetValue<string>());
        AssertExactly("""{"value":{"remote_addr":"127.0.0.1","upstream":{"nodes":{"127.0.0.1:8080":1},"type":"roundrobin"}}}""", post, "key", "value.create_time", "value.update_time", "value.id");

        const string Expected = """{"key":"/apisix/stream_routes/1","value":{"id":"1","remote_addr":"127.0.0.1","upstream":{"nodes":{"127.0.0.1:8080":1},"type":"roundrobin"}}}""";
        AssertExactly(Expected, await Gateway.PassesAsync(Put, "stream_routes/1", Route), "value.create_time", "value.update_time");
        AssertExactly(Expected, await Gateway.PassesAsync(Get, "stream_routes/1"), "createdIndex", "modifiedIndex", "value.create_time", "value.update_time");
        var deleted = await Gateway.PassesAsync(Delete, "stream_routes/1");
        Assert.Equal("""{"deleted":"1","key":"/apisix/stream_routes/1"}""", deleted.Text);
    }

    /// <summary>stream-routes.t TEST 15: an unknown plugin.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Stream_routes_t_TEST_15_unknown_plugin() =>
        await Gateway.FailsAsync(Put, "stream_routes/p15", """{"remote_addr": "127.0.0.1", "plugins": {"mqttt-proxy": {}}}""", HttpStatusCode.BadRequest, "unknown plugin [mqttt-proxy]");

    /// <summary>
    /// stream-routes.t TEST 16, its first case: a protocol no xRPC module serves. (Its pingpong cases need an xRPC
    /// protocol, which StreamGate does not have: every name is unknown, docs/admin-api.md.)
    /// </summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Stream_routes_t_TEST_16_unknown_protocol()
    {
        await Gateway.FailsAsync(Put, "stream_routes/p16", """{"protocol": {"name": "xxx"}, "upstream": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}}""", HttpStatusCode.BadRequest, "unknown protocol [xxx]");
        await Gateway.FailsAsync(Get, "stream_routes/p16", null, HttpStatusCode.NotFound);
    }

    /// <summary>stream-routes-disable.t TEST 1: with proxy_mode http (no stream), a stream route is refused.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Stream_routes_disable_t_TEST_1_stream_mode_disabled()
    {
        await using var http = await AdminGateway.StartAsync(new AdminGatewayOptions { ProxyMode = "http" });
        var reply = await http.FailsAsync(Put, "stream_routes/1", """{"remote_addr": "127.0.0.1", "upstream": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}, "desc": "new route"}""",
            HttpStatusCode.BadRequest, "stream mode is disabled, can not add stream routes");
        Assert.Equal("""{"error_msg":"stream mode is disabled, can not add stream routes"}""", reply.Text);
    }
}
