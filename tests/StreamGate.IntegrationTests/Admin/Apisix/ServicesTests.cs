using System.Net;
using static StreamGate.IntegrationTests.Admin.Apisix.ApisixPort;

namespace StreamGate.IntegrationTests.Admin.Apisix;

/// <summary>
/// apache/apisix t/admin/services.t, services2.t, services-string-id.t, services-array-nodes.t and
/// services-force-delete.t on the real gateway; where APISIX refers to a service from an HTTP route, a stream
/// route does here. services.t TEST 11 to 13, 33 to 36 are also unit tests (ApisixAdminPortTests).
/// </summary>
public sealed class ServicesTests(AdminGatewayFixture fixture) : IClassFixture<AdminGatewayFixture>
{
    private AdminGateway Gateway => fixture.Gateway;

    private const string Upstream = """{"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}""";

    /// <summary>services.t TEST 1 to 4, services-string-id.t TEST 1 to 4 (id 5eeb3dc90f747328b2930b0b), services-array-nodes.t TEST 1, 2.</summary>
    [Theory(Timeout = TestTimeoutMs)]
    [InlineData("1", Upstream)]
    [InlineData("5eeb3dc90f747328b2930b0b", Upstream)]
    [InlineData("array-1", """{"nodes": [{"host": "127.0.0.1", "port": 8080, "weight": 1}], "type": "roundrobin"}""")]
    public async Task Services_t_TEST_1_to_4_set_get_delete(string id, string upstream)
    {
        var value = $$"""{"upstream": {{upstream}}, "desc": "new service"}""";
        var put = await Gateway.PassesAsync(Put, $"services/{id}", value, $$"""{"value": {{value}}, "key": "/apisix/services/{{id}}"}""");
        Assert.True(put.Time("create_time") > 0 && put.Time("update_time") > 0, put.Text);
        await Gateway.PassesAsync(Get, $"services/{id}", null, $$"""{"value": {{value}}, "key": "/apisix/services/{{id}}"}""");
        await Gateway.PassesAsync(Delete, $"services/{id}");
        await Gateway.FailsAsync(Delete, "services/not_found", null, HttpStatusCode.NotFound);
    }

    /// <summary>services.t TEST 5 and services-string-id.t TEST 5: POST, then delete what it made.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services_t_TEST_5_post_and_delete()
    {
        var post = await Gateway.PassesAsync(Post, "services", $$"""{"upstream": {{Upstream}}}""", $$$"""{"value": {"upstream": {{{Upstream}}}}}""");
        var id = post.Body!["key"]!.GetValue<string>()["/apisix/services/".Length..];
        Assert.True(post.Time("create_time") > 0 && post.Time("update_time") > 0, post.Text);
        await Gateway.PassesAsync(Delete, $"services/{id}");
    }

    /// <summary>services.t TEST 6 and services-string-id.t TEST 6: a service with an upstream.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services_t_TEST_6_upstream() =>
        await Gateway.PassesAsync(Put, "services/5eeb3dc90f747328b2930b0c", $$"""{"upstream": {{Upstream}}}""",
            $$"""{"value": {"upstream": {{Upstream}}}, "key": "/apisix/services/5eeb3dc90f747328b2930b0c"}""");

    /// <summary>services.t TEST 8, 28 and services-string-id.t TEST 8: invalid ids in the uri.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services_t_TEST_8_28_invalid_ids_in_the_uri()
    {
        await Gateway.FailsAsync(Put, "services/invalid_id$", """{"plugins": {}}""", HttpStatusCode.BadRequest);
        await Gateway.FailsAsync(Put, "services/*invalid", $$"""{"upstream": {{Upstream}}}""", HttpStatusCode.BadRequest);
        await Gateway.FailsAsync(Put, "services/*invalid_id$", """{"plugins": {}}""", HttpStatusCode.BadRequest);
    }

    /// <summary>services.t TEST 9 and services-string-id.t TEST 9: the body's id is not the uri's.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services_t_TEST_9_wrong_service_id()
    {
        await Gateway.FailsAsync(Put, "services/1", """{"id": 3, "plugins": {}}""", HttpStatusCode.BadRequest, "wrong service id");
        await Gateway.FailsAsync(Put, "services/5eeb3dc90f747328b2930b0b", """{"id": "3", "plugins": {}}""", HttpStatusCode.BadRequest, "wrong service id");
    }

    /// <summary>services.t TEST 10 and services-string-id.t TEST 10: PUT on the collection takes the body's id.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services_t_TEST_10_id_in_the_rule()
    {
        await Gateway.PassesAsync(Put, "services", """{"id": "10", "plugins": {}}""", """{"value": {"plugins": {}}, "key": "/apisix/services/10"}""");
        await Gateway.PassesAsync(Put, "services", """{"id": "5eeb3dc90f747328b2930b0d", "plugins": {}}""", """{"value": {"plugins": {}}, "key": "/apisix/services/5eeb3dc90f747328b2930b0d"}""");
    }

    /// <summary>services.t TEST 11 to 13 and services-string-id.t TEST 11 to 13: invalid ids and upstream_id in the body.</summary>
    [Theory(Timeout = TestTimeoutMs)]
    [InlineData("""{"id": -100, "plugins": {}}""", "id")]
    [InlineData("""{"id": "invalid_id$", "plugins": {}}""", "id")]
    [InlineData("""{"id": "*invalid_id$", "plugins": {}}""", "id")]
    [InlineData("""{"id": 1, "upstream_id": "invalid$"}""", "upstream_id")]
    [InlineData("""{"id": "5eeb3dc90f747328b2930b0b", "upstream_id": "invalid$"}""", "upstream_id")]
    public async Task Services_t_TEST_11_to_13_invalid_ids(string body, string field) =>
        await Gateway.FailsAsync(Put, "services", body, HttpStatusCode.BadRequest, $"invalid configuration: property \"{field}\" validation failed: object matches none of the required");

    /// <summary>services.t TEST 14 and services-string-id.t TEST 14: an upstream_id that names nothing.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services_t_TEST_14_upstream_id_that_does_not_exist()
    {
        await Gateway.FailsAsync(Put, "services", """{"id": 1, "upstream_id": "9999999999"}""", HttpStatusCode.BadRequest, "failed to fetch upstream info by upstream id [9999999999], response code: 404");
        await Gateway.FailsAsync(Put, "services", """{"id": "5eeb3dc90f747328b2930b0b", "upstream_id": "9999999999"}""", HttpStatusCode.BadRequest, "failed to fetch upstream info by upstream id [9999999999], response code: 404");
    }

    /// <summary>services.t TEST 15, 16 and services-string-id.t TEST 15, 16: POST wants no id.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services_t_TEST_15_16_post_wants_no_id()
    {
        await Gateway.FailsAsync(Post, "services/1", """{"plugins": {}}""", HttpStatusCode.BadRequest, "wrong service id, do not need it");
        await Gateway.FailsAsync(Post, "services", """{"id": 1, "plugins": {}}""", HttpStatusCode.BadRequest, "wrong service id, do not need it");
        await Gateway.FailsAsync(Post, "services/5eeb3dc90f747328b2930b0b", """{"plugins": {}}""", HttpStatusCode.BadRequest, "wrong service id, do not need it");
        await Gateway.FailsAsync(Post, "services", """{"id": "5eeb3dc90f747328b2930b0b", "plugins": {}}""", HttpStatusCode.BadRequest, "wrong service id, do not need it");
    }

    /// <summary>
    /// services.t TEST 17 to 22 and services-string-id.t TEST 17 to 19: PATCH whole (create_time kept), new desc,
    /// new nodes (merged into the inline upstream), then the sub-path forms (`/services/1/`, `/desc`, `/upstream`).
    /// </summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services_t_TEST_17_to_22_patch()
    {
        await Gateway.PassesAsync(Put, "services/p1", $$"""{"upstream": {{Upstream}}, "desc": "new service"}""");
        var before = await Gateway.PassesAsync(Get, "services/p1");
        var whole = await Gateway.PassesAsync(Patch, "services/p1", $$"""{"upstream": {{Upstream}}, "desc": "new 20 service"}""",
            $$"""{"value": {"upstream": {{Upstream}}, "desc": "new 20 service"}, "key": "/apisix/services/p1"}""");
        Assert.Equal(before.Time("create_time"), whole.Time("create_time"));
        Assert.True(whole.Time("update_time") >= before.Time("update_time"), whole.Text);
        await Gateway.PassesAsync(Patch, "services/p1", """{"desc": "new 19 service"}""",
            $$"""{"value": {"upstream": {{Upstream}}, "desc": "new 19 service"}, "key": "/apisix/services/p1"}""");
        await Gateway.PassesAsync(Patch, "services/p1", """{"upstream": {"nodes": {"127.0.0.1:8081": 3, "127.0.0.1:8082": 4}, "type": "roundrobin"}}""",
            """{"value": {"upstream": {"nodes": {"127.0.0.1:8080": 1, "127.0.0.1:8081": 3, "127.0.0.1:8082": 4}, "type": "roundrobin"}}}""");
        await Gateway.PassesAsync(Patch, "services/p1/", $$"""{"upstream": {{Upstream}}, "desc": "new 22 service"}""",
            $$"""{"value": {"upstream": {{Upstream}}, "desc": "new 22 service"}, "key": "/apisix/services/p1"}""");
        await Gateway.PassesAsync(Patch, "services/p1/desc", "\"new 23 service\"",
            $$"""{"value": {"upstream": {{Upstream}}, "desc": "new 23 service"}, "key": "/apisix/services/p1"}""");
        var upstream = await Gateway.PassesAsync(Patch, "services/p1/upstream", """{"nodes": {"127.0.0.2:8081": 3, "127.0.0.3:8082": 4}, "type": "roundrobin"}""");
        Assert.True(System.Text.Json.Nodes.JsonNode.DeepEquals(
            System.Text.Json.Nodes.JsonNode.Parse("""{"nodes": {"127.0.0.2:8081": 3, "127.0.0.3:8082": 4}, "type": "roundrobin"}"""), upstream.Body!["value"]!["upstream"]), upstream.Text);
    }

    /// <summary>
    /// services.t TEST 23 to 25 and services-string-id.t TEST 20 to 22: a chash upstream without a key, whatever its
    /// hash_on (vars by default, header, cookie), is APISIX's check_upstream_conf answer.
    /// </summary>
    [Theory(Timeout = TestTimeoutMs)]
    [InlineData("1", "")]
    [InlineData("1", ", \"hash_on\": \"header\"")]
    [InlineData("1", ", \"hash_on\": \"cookie\"")]
    [InlineData("5eeb3dc90f747328b2930b0b", "")]
    [InlineData("5eeb3dc90f747328b2930b0b", ", \"hash_on\": \"header\"")]
    [InlineData("5eeb3dc90f747328b2930b0b", ", \"hash_on\": \"cookie\"")]
    public async Task Services_t_TEST_23_to_25_chash_without_a_key(string id, string hashOn) =>
        await Gateway.FailsAsync(Put, $"services/{id}", "{\"upstream\": {\"nodes\": {\"127.0.0.1:8080\": 1}, \"type\": \"chash\"" + hashOn + "}, \"desc\": \"new service\"}", HttpStatusCode.BadRequest,
            "missing key");

    /// <summary>
    /// services.t TEST 26 and services-string-id.t TEST 23: APISIX takes hash_on consumer without a key (200); a
    /// stream connection has no consumer, so StreamGate refuses it, a documented difference (docs/admin-api.md).
    /// </summary>
    [Theory(Timeout = TestTimeoutMs)]
    [InlineData("1")]
    [InlineData("5eeb3dc90f747328b2930b0b")]
    public async Task Services_t_TEST_26_hash_on_consumer_is_refused_a_documented_difference(string id)
    {
        var reply = await Gateway.FailsAsync(Put, $"services/{id}", """{"upstream": {"nodes": {"127.0.0.1:8080": 1}, "type": "chash", "hash_on": "consumer"}, "desc": "new service"}""", HttpStatusCode.BadRequest);
        Assert.StartsWith("invalid configuration: property \"upstream\" validation failed: property \"hash_on\" validation failed: hash_on \"consumer\" is for HTTP routes", reply.ErrorMessage, StringComparison.Ordinal);
    }

    /// <summary>services.t TEST 27: a service with a name.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services_t_TEST_27_name() =>
        await Gateway.PassesAsync(Put, "services/named", $$"""{"upstream": {{Upstream}}, "name": "test service name"}""",
            $$"""{"value": {"upstream": {{Upstream}}, "name": "test service name"}, "key": "/apisix/services/named"}""");

    /// <summary>services.t TEST 29: an empty service; TEST 30 without its limit-count plugin (HTTP only): content patched in.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services_t_TEST_29_30_empty_service_then_patched()
    {
        await Gateway.PassesAsync(Put, "services/empty", "{}", """{"value": {"id": "empty"}}""");
        await Gateway.PassesAsync(Patch, "services/empty", """{"desc": "empty service", "upstream": {"type": "roundrobin", "nodes": {"127.0.0.1:80": 1}}}""",
            """{"value": {"desc": "empty service", "upstream": {"type": "roundrobin", "nodes": {"127.0.0.1:80": 1}}, "id": "empty"}}""");
    }

    /// <summary>services.t TEST 31 to 33: labels set, patched (merged), and a label value of the wrong type.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services_t_TEST_31_to_33_labels()
    {
        await Gateway.PassesAsync(Put, "services/labels", $$"""{"upstream": {{Upstream}}, "labels": {"build": "16", "env": "production", "version": "v2"}, "desc": "new service"}""",
            $$"""{"value": {"upstream": {{Upstream}}, "labels": {"build": "16", "env": "production", "version": "v2"}, "desc": "new service"}, "key": "/apisix/services/labels"}""");
        await Gateway.PassesAsync(Patch, "services/labels", """{"labels": {"build": "17"}}""",
            $$"""{"value": {"upstream": {{Upstream}}, "labels": {"build": "17", "env": "production", "version": "v2"}, "desc": "new service"}, "key": "/apisix/services/labels"}""");
        await Gateway.FailsAsync(Put, "services/labels", $$"""{"upstream": {{Upstream}}, "labels": {"env": ["production", "release"]}, "desc": "new service"}""", HttpStatusCode.BadRequest,
            "invalid configuration: property \"labels\" validation failed: failed to validate env (matching \".*\"): wrong type: expected string, got table");
    }

    /// <summary>services.t TEST 34: create_time and update_time in a PUT (TEST 35, in the inline upstream, is in AdminApisixPortTests).</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services_t_TEST_34_times_are_forbidden()
    {
        var reply = await Gateway.FailsAsync(Put, "services/timed", $$"""{"upstream": {{Upstream}}, "create_time": 1602883670, "update_time": 1602893670}""", HttpStatusCode.BadRequest);
        Assert.Equal("""{"error_msg":"the property is forbidden:  create_time"}""", reply.Text);
    }

    /// <summary>services.t TEST 36: a name of 257 characters.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services_t_TEST_36_name_length() =>
        await Gateway.FailsAsync(Put, "services/long", $$"""{"name": "{{new string('1', 257)}}"}""", HttpStatusCode.BadRequest,
            "invalid configuration: property \"name\" validation failed: string too long, expected at most 256, got 257");

    /// <summary>services.t TEST 37: a dot in the id.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services_t_TEST_37_dot_in_the_id() =>
        await Gateway.PassesAsync(Put, "services/a.b", $$"""{"upstream": {{Upstream}}, "desc": "new service"}""",
            $$"""{"value": {"upstream": {{Upstream}}, "desc": "new service"}, "key": "/apisix/services/a.b"}""");

    /// <summary>services2.t TEST 1 to 5: no unwanted data in the answers to POST, PUT, PATCH, GET and DELETE.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services2_t_TEST_1_to_5_no_unwanted_data()
    {
        var post = await Gateway.PassesAsync(Post, "services", $$"""{"upstream": {{Upstream}}}""");
        AssertExactly("""{"value":{"upstream":{"nodes":{"127.0.0.1:8080":1},"type":"roundrobin"}}}""", post, "key", "value.create_time", "value.update_time", "value.id");
        await Gateway.PassesAsync(Delete, "services/" + post.Body!["value"]!["id"]!.GetValue<string>());

        const string Expected = """{"key":"/apisix/services/u1","value":{"id":"u1","upstream":{"nodes":{"127.0.0.1:8080":1},"type":"roundrobin"}}}""";
        AssertExactly(Expected, await Gateway.PassesAsync(Put, "services/u1", $$"""{"upstream": {{Upstream}}}"""), "value.create_time", "value.update_time");
        AssertExactly(Expected, await Gateway.PassesAsync(Patch, "services/u1", $$"""{"upstream": {{Upstream}}}"""), "value.create_time", "value.update_time");
        AssertExactly(Expected, await Gateway.PassesAsync(Get, "services/u1"), "createdIndex", "modifiedIndex", "value.create_time", "value.update_time");
        AssertExactly("""{"deleted":"1","key":"/apisix/services/u1"}""", await Gateway.PassesAsync(Delete, "services/u1"));
    }

    /// <summary>
    /// services2.t TEST 6 to 10 and services-force-delete.t TEST 1 to 6, with a stream route where APISIX has an
    /// HTTP route (APISIX's message then names stream_route): `force=anyvalue` is no force, `force=true` is.
    /// </summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services2_t_TEST_6_to_10_and_services_force_delete_t_a_service_in_use()
    {
        var put = await Gateway.PassesAsync(Put, "services/used", $$"""{"upstream": {{Upstream}}}""");
        Assert.Equal(HttpStatusCode.Created, put.Status);
        await Gateway.PassesAsync(Put, "stream_routes/uses", """{"service_id": "used"}""");
        const string InUse = "can not delete this service directly, stream_route [uses] is still using it now";
        await Gateway.FailsAsync(Delete, "services/used?force=anyvalue", null, HttpStatusCode.BadRequest, InUse);
        await Gateway.FailsAsync(Delete, "services/used", null, HttpStatusCode.BadRequest, InUse);
        await Gateway.PassesAsync(Delete, "stream_routes/uses");
        await Gateway.PassesAsync(Delete, "services/used");

        await Gateway.PassesAsync(Put, "services/forced", $$"""{"upstream": {{Upstream}}}""");
        await Gateway.PassesAsync(Put, "stream_routes/forced", """{"service_id": "forced"}""");
        await Gateway.PassesAsync(Delete, "services/forced?force=true");
        await Gateway.PassesAsync(Delete, "stream_routes/forced");
    }
}
