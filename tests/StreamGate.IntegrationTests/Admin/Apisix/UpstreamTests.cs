using System.Net;
using System.Text.Json.Nodes;
using static StreamGate.IntegrationTests.Admin.Apisix.ApisixPort;

namespace StreamGate.IntegrationTests.Admin.Apisix;

/// <summary>
/// apache/apisix t/admin/upstream.t, upstream2.t, upstream3.t, upstream4.t, upstream-array-nodes.t and
/// upstream-force-delete.t, the blocks that concern a stream gateway, on the real gateway. Each test names its
/// blocks; the ones not ported, and why, are in docs/admin-api.md ("Ported APISIX tests").
/// </summary>
public sealed class UpstreamTests(AdminGatewayFixture fixture) : IClassFixture<AdminGatewayFixture>
{
    private AdminGateway Gateway => fixture.Gateway;

    private const string Node8080 = """{"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}""";

    /// <summary>upstream.t TEST 1, 2, 3 (set, get, delete; create_time and update_time are set) and TEST 4 (delete a missing one).</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream_t_TEST_1_to_4_set_get_delete()
    {
        const string Value = """{"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "desc": "new upstream"}""";
        var put = await Gateway.PassesAsync(Put, "upstreams/admin_up", Value, $$"""{"value": {{Value}}, "key": "/apisix/upstreams/admin_up"}""");
        Assert.True(put.Time("create_time") > 0 && put.Time("update_time") > 0, put.Text);
        await Gateway.PassesAsync(Get, "upstreams/admin_up", null, $$"""{"value": {{Value}}, "key": "/apisix/upstreams/admin_up"}""");
        await Gateway.PassesAsync(Delete, "upstreams/admin_up");
        await Gateway.FailsAsync(Delete, "upstreams/not_found", null, HttpStatusCode.NotFound);
    }

    /// <summary>upstream.t TEST 5 and upstream-array-nodes.t TEST 5: POST, then delete what it made.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream_t_TEST_5_post_and_delete()
    {
        foreach (var value in (string[])[Node8080, """{"nodes": [{"host": "127.0.0.1", "port": 8080, "weight": 1}], "type": "roundrobin"}"""])
        {
            var post = await Gateway.PassesAsync(Post, "upstreams", value, $$"""{"value": {{value}}}""");
            var key = post.Body!["key"]!.GetValue<string>();
            var id = key["/apisix/upstreams/".Length..];
            Assert.Equal(id, post.Body["value"]!["id"]!.GetValue<string>());
            Assert.True(post.Time("create_time") > 0 && post.Time("update_time") > 0, post.Text);
            await Gateway.PassesAsync(Delete, $"upstreams/{id}");
        }
    }

    /// <summary>upstream.t TEST 6 (invalid id in the uri), upstream4.t TEST 4 (`*invalid`).</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream_t_TEST_6_and_upstream4_t_TEST_4_invalid_ids_in_the_uri()
    {
        await Gateway.FailsAsync(Put, "upstreams/invalid_id$", Node8080, HttpStatusCode.BadRequest);
        await Gateway.FailsAsync(Put, "upstreams/*invalid", Node8080, HttpStatusCode.BadRequest);
    }

    /// <summary>upstream.t TEST 7: an id in the body that is not the uri's.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream_t_TEST_7_different_id() =>
        await Gateway.FailsAsync(Put, "upstreams/1", """{"id": 3, "nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}""", HttpStatusCode.BadRequest, "wrong upstream id");

    /// <summary>upstream.t TEST 8: PUT on the collection takes the id from the body.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream_t_TEST_8_id_in_the_rule() =>
        await Gateway.PassesAsync(Put, "upstreams", """{"id": "t8", "nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}""",
            """{"value": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}, "key": "/apisix/upstreams/t8"}""");

    /// <summary>upstream.t TEST 9 (integer id below 1) and TEST 10 (string id with a `$`).</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream_t_TEST_9_10_invalid_ids_in_the_body()
    {
        await Gateway.FailsAsync(Put, "upstreams", """{"id": -100, "nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}""", HttpStatusCode.BadRequest,
            "invalid configuration: property \"id\" validation failed: object matches none of the required");
        await Gateway.FailsAsync(Put, "upstreams", """{"id": "invalid_id$", "nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}""", HttpStatusCode.BadRequest,
            "invalid configuration: property \"id\" validation failed: object matches none of the required");
    }

    /// <summary>upstream.t TEST 11 and upstream-array-nodes.t TEST 9: additional properties (`_service_name`, `_discovery_type`).</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream_t_TEST_11_additional_properties()
    {
        foreach (var nodes in (string[])["""{"127.0.0.1:8080": 1}""", """[{"host": "127.0.0.1", "port": 8080, "weight": 1}]"""])
        {
            var reply = await Gateway.FailsAsync(Put, "upstreams", $$"""{"id": 1, "nodes": {{nodes}}, "type": "roundrobin", "_service_name": "xyz", "_discovery_type": "nacos"}""", HttpStatusCode.BadRequest);
            Assert.StartsWith("invalid configuration: additional properties forbidden, found ", reply.ErrorMessage, StringComparison.Ordinal);
        }
    }

    /// <summary>
    /// upstream.t TEST 13: APISIX stores `"type": "unknown"` (its schema has no enum); StreamGate refuses it, a
    /// documented difference (docs/admin-api.md, object validation: `type`).
    /// </summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream_t_TEST_13_unknown_type_is_refused_a_documented_difference()
    {
        var reply = await Gateway.FailsAsync(Put, "upstreams", """{"id": 1, "nodes": {"127.0.0.1:8080": 1}, "type": "unknown"}""", HttpStatusCode.BadRequest);
        Assert.Equal("invalid configuration: property \"type\" validation failed: matches none of the enum values", reply.ErrorMessage);
    }

    /// <summary>
    /// upstream.t TEST 14, 15 and upstream-array-nodes.t TEST 10 to 13 (invalid weights, port and host of a node),
    /// with chash and no key as APISIX has them: the node fails first (the schema is checked before chash's key), in
    /// APISIX's words, and (ours) the hint says which part of the node is wrong.
    /// </summary>
    [Theory(Timeout = TestTimeoutMs)]
    [InlineData("""{"127.0.0.1:8080": "1"}""", "the weight must be an integer of at least 0")]
    [InlineData("""{"127.0.0.1:8080": -100}""", "the weight must be an integer of at least 0")]
    [InlineData("""[{"host": "127.0.0.1", "port": 8080, "weight": "1"}]""", "wrong type: expected integer, got string")]
    [InlineData("""[{"host": "127.0.0.1", "port": 8080, "weight": -100}]""", "expected -100 to be at least 0")]
    [InlineData("""[{"host": "127.0.0.1", "port": 0, "weight": 1}]""", "expected 0 to be at least 1")]
    [InlineData("""[{"host": "127.#.%.1", "port": 8080, "weight": 1}]""", "failed to match pattern")]
    public async Task Upstream_t_TEST_14_15_invalid_nodes(string nodes, string hint)
    {
        var reply = await Gateway.FailsAsync(Put, "upstreams", $$"""{"id": 1, "nodes": {{nodes}}, "type": "chash"}""", HttpStatusCode.BadRequest,
            "invalid configuration: property \"nodes\" validation failed: object matches none of the required");
        Assert.Contains(hint, reply.Body!["hint"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    /// <summary>upstream.t TEST 12: a chash upstream hashing on remote_addr.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream_t_TEST_12_chash() =>
        await Gateway.PassesAsync(Put, "upstreams/chash-1", """{"key": "remote_addr", "nodes": {"127.0.0.1:8080": 1}, "type": "chash"}""",
            """{"value": {"key": "remote_addr", "nodes": {"127.0.0.1:8080": 1}, "type": "chash"}, "key": "/apisix/upstreams/chash-1"}""");

    /// <summary>upstream.t TEST 16: chash without a key.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream_t_TEST_16_chash_without_a_key() =>
        await Gateway.FailsAsync(Put, "upstreams/chash-2", """{"nodes": {"127.0.0.1:8080": 1}, "type": "chash"}""", HttpStatusCode.BadRequest, "missing key");

    /// <summary>upstream.t TEST 17 (POST with an id in the uri) and TEST 18 (POST with an id in the body).</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream_t_TEST_17_18_post_wants_no_id()
    {
        await Gateway.FailsAsync(Post, "upstreams/1", Node8080, HttpStatusCode.BadRequest, "wrong upstream id, do not need it");
        await Gateway.FailsAsync(Post, "upstreams", """{"id": 1, "nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}""", HttpStatusCode.BadRequest, "wrong upstream id, do not need it");
    }

    /// <summary>upstream.t TEST 22: type may be left out (roundrobin).</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream_t_TEST_22_type_has_a_default()
    {
        await Gateway.PassesAsync(Put, "upstreams/t22", """{"nodes": {"127.0.0.1:8080": 1}, "desc": "new upstream"}""",
            """{"value": {"nodes": {"127.0.0.1:8080": 1}, "desc": "new upstream"}, "key": "/apisix/upstreams/t22"}""");
    }

    /// <summary>upstream.t TEST 23: a bare IPv6 host in the array form.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream_t_TEST_23_bare_IPv6_host() =>
        await Gateway.FailsAsync(Post, "upstreams", """{"nodes": [{"host": "::1", "port": 80, "weight": 1}], "type": "roundrobin"}""", HttpStatusCode.BadRequest,
            "invalid configuration: IPv6 address must be enclosed with '[' and ']'");

    /// <summary>upstream2.t TEST 1 to 5: no unwanted data in the answers to POST, PUT, PATCH, GET and DELETE.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream2_t_TEST_1_to_5_no_unwanted_data()
    {
        var post = await Gateway.PassesAsync(Post, "upstreams", Node8080);
        AssertExactly("""{"value":{"nodes":{"127.0.0.1:8080":1},"type":"roundrobin"}}""", post, "key", "value.create_time", "value.update_time", "value.id");
        await Gateway.PassesAsync(Delete, "upstreams/" + post.Body!["value"]!["id"]!.GetValue<string>());

        const string Expected = """{"key":"/apisix/upstreams/unwanted","value":{"id":"unwanted","nodes":{"127.0.0.1:8080":1},"type":"roundrobin"}}""";
        AssertExactly(Expected, await Gateway.PassesAsync(Put, "upstreams/unwanted", Node8080), "value.create_time", "value.update_time");
        AssertExactly(Expected, await Gateway.PassesAsync(Patch, "upstreams/unwanted", Node8080), "value.create_time", "value.update_time");
        AssertExactly(Expected, await Gateway.PassesAsync(Get, "upstreams/unwanted"), "createdIndex", "modifiedIndex", "value.create_time", "value.update_time");
        AssertExactly("""{"deleted":"1","key":"/apisix/upstreams/unwanted"}""", await Gateway.PassesAsync(Delete, "upstreams/unwanted"));
    }

    /// <summary>upstream2.t TEST 6 and upstream-array-nodes.t TEST 6: empty nodes are accepted.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream2_t_TEST_6_empty_nodes()
    {
        await Gateway.PassesAsync(Put, "upstreams/empty-1", """{"nodes": {}, "type": "roundrobin"}""");
        await Gateway.PassesAsync(Put, "upstreams/empty-2", """{"nodes": [], "type": "roundrobin"}""");
    }

    /// <summary>upstream2.t TEST 9: timeouts of 0.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream2_t_TEST_9_zero_timeouts()
    {
        var reply = await Gateway.FailsAsync(Put, "upstreams/t9", """{"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "timeout": {"connect": 0, "send": 0, "read": 0}}""", HttpStatusCode.BadRequest);
        Assert.Matches("""^invalid configuration: property "timeout" validation failed: property "(connect|send|read)" validation failed: expected 0 to be greater than 0$""", reply.ErrorMessage);
    }

    /// <summary>upstream3.t TEST 1: the list of a new store is empty.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream3_t_TEST_1_list_empty_resources()
    {
        await using var fresh = await AdminGateway.StartAsync();
        var list = await fresh.PassesAsync(Get, "upstreams");
        AssertExactly("""{"list":[],"total":0}""", list);
    }

    /// <summary>upstream3.t TEST 2 (retry_timeout -1) and upstream4.t TEST 6 (retries -1); TEST 5: retries 0 passes.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream3_t_TEST_2_and_upstream4_t_TEST_5_6_retries()
    {
        await Gateway.FailsAsync(Put, "upstreams/a-b-c-ABC_0123", """{"nodes": {"127.0.0.1:8080": 1, "127.0.0.1:8090": 1}, "retry_timeout": -1, "type": "roundrobin"}""", HttpStatusCode.BadRequest,
            "invalid configuration: property \"retry_timeout\" validation failed: expected -1 to be at least 0");
        await Gateway.PassesAsync(Put, "upstreams/a-b-c-ABC_0123", """{"nodes": {"127.0.0.1:8080": 1, "127.0.0.1:8090": 1}, "retries": 0, "type": "roundrobin"}""");
        await Gateway.FailsAsync(Put, "upstreams/a-b-c-ABC_0123", """{"nodes": {"127.0.0.1:8080": 1, "127.0.0.1:8090": 1}, "retries": -1, "type": "roundrobin"}""", HttpStatusCode.BadRequest,
            "invalid configuration: property \"retries\" validation failed: expected -1 to be at least 0");
    }

    /// <summary>
    /// upstream3.t TEST 13, 16 (a key hash_on vars cannot take), TEST 20, 22 (a header and a cookie name with
    /// invalid characters), TEST 25 (an unknown hash_on): APISIX's exact answers.
    /// </summary>
    [Theory(Timeout = TestTimeoutMs)]
    [InlineData("""{"nodes": {"127.0.0.1:8080": 1, "127.0.0.1:8081": 2}, "type": "chash", "key": "not_support", "desc": "new upstream"}""",
        "invalid configuration: failed to match pattern \"^((uri|server_name|server_addr|request_uri|remote_port|remote_addr|query_string|host|hostname|mqtt_client_id)|arg_[0-9a-zA-z_-]+)$\" with \"not_support\"")]
    [InlineData("""{"key": "$#^@", "nodes": {"127.0.0.1:8080": 1}, "type": "chash", "hash_on": "header", "desc": "new chash upstream"}""",
        "invalid configuration: failed to match pattern \"^[a-zA-Z0-9-_]+$\" with \"$#^@\"")]
    [InlineData("""{"key": "$#^@abc", "nodes": {"127.0.0.1:8080": 1}, "type": "chash", "hash_on": "cookie", "desc": "new chash upstream"}""",
        "invalid configuration: failed to match pattern \"^[a-zA-Z0-9-_]+$\" with \"$#^@abc\"")]
    [InlineData("""{"key": "dsadas", "nodes": {"127.0.0.1:8080": 1}, "type": "chash", "hash_on": "aabbcc", "desc": "new chash upstream"}""",
        "invalid configuration: property \"hash_on\" validation failed: matches none of the enum values")]
    public async Task Upstream3_t_TEST_13_16_20_22_25_bad_chash_keys(string body, string message) =>
        await Gateway.FailsAsync(Put, "upstreams/1", body, HttpStatusCode.BadRequest, message);

    /// <summary>
    /// upstream3.t TEST 12, 14, 15, 17, 18 (keys server_name, arg_device_id), TEST 19, 21 (hash_on header and
    /// cookie), TEST 23, 24 (hash_on consumer): APISIX stores them, and its stream connections, which have none of
    /// these, hash on remote_addr. StreamGate refuses them, a documented difference (docs/admin-api.md), in words
    /// that name the keys a stream upstream can hash on.
    /// </summary>
    [Theory(Timeout = TestTimeoutMs)]
    [InlineData("""{"key": "server_name", "nodes": {"127.0.0.1:8080": 1}, "type": "chash"}""", "key")]
    [InlineData("""{"key": "arg_device_id", "nodes": {"127.0.0.1:8080": 1}, "type": "chash", "desc": "new chash upstream"}""", "key")]
    [InlineData("""{"key": "arg_device_id", "nodes": {"127.0.0.1:8080": 1}, "type": "chash", "hash_on": "vars", "desc": "new chash upstream"}""", "key")]
    [InlineData("""{"key": "custom_header", "nodes": {"127.0.0.1:8080": 1}, "type": "chash", "hash_on": "header", "desc": "new chash upstream"}""", "hash_on")]
    [InlineData("""{"key": "custom_cookie", "nodes": {"127.0.0.1:8080": 1}, "type": "chash", "hash_on": "cookie", "desc": "new chash upstream"}""", "hash_on")]
    [InlineData("""{"nodes": {"127.0.0.1:8080": 1}, "type": "chash", "hash_on": "consumer", "desc": "new chash upstream"}""", "hash_on")]
    [InlineData("""{"nodes": {"127.0.0.1:8080": 1}, "type": "chash", "hash_on": "consumer", "key": "invalid-key", "desc": "new chash upstream"}""", "hash_on")]
    public async Task Upstream3_t_TEST_12_14_15_17_to_19_21_23_24_http_keys_are_refused_a_documented_difference(string body, string field)
    {
        var reply = await Gateway.FailsAsync(Put, "upstreams/1", body, HttpStatusCode.BadRequest);
        Assert.StartsWith($"invalid configuration: property \"{field}\" validation failed: ", reply.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("remote_addr, remote_port, server_addr, server_port", reply.ErrorMessage, StringComparison.Ordinal);
    }

    /// <summary>
    /// upstream3.t TEST 3 to 11: PATCH whole (create_time kept), new desc, new nodes (merged), a weight of 0; then
    /// the same through the sub-path forms (`/upstreams/1/` whole, `/desc`, `/nodes` replaced whole).
    /// </summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream3_t_TEST_3_to_11_patch()
    {
        await Gateway.PassesAsync(Put, "upstreams/p1", """{"nodes": {"127.0.0.1:8080": 1, "127.0.0.1:8090": 1}, "type": "roundrobin"}""");
        var before = await Gateway.PassesAsync(Get, "upstreams/p1");
        var whole = await Gateway.PassesAsync(Patch, "upstreams/p1", """{"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "desc": "new upstream"}""",
            """{"value": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "desc": "new upstream"}, "key": "/apisix/upstreams/p1"}""");
        Assert.Equal(before.Time("create_time"), whole.Time("create_time"));
        Assert.True(whole.Time("update_time") >= before.Time("update_time"), whole.Text);

        await Gateway.PassesAsync(Patch, "upstreams/p1", """{"desc": "new 21 upstream"}""",
            """{"value": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "desc": "new 21 upstream"}, "key": "/apisix/upstreams/p1"}""");
        await Gateway.PassesAsync(Patch, "upstreams/p1", """{"nodes": {"127.0.0.1:8081": 3, "127.0.0.1:8082": 4}}""",
            """{"value": {"nodes": {"127.0.0.1:8080": 1, "127.0.0.1:8081": 3, "127.0.0.1:8082": 4}, "type": "roundrobin", "desc": "new 21 upstream"}}""");
        // TEST 7: APISIX's expected value lists 8081 and 8082 only, and com_tab checks only what it lists (8080 stays).
        await Gateway.PassesAsync(Patch, "upstreams/p1", """{"nodes": {"127.0.0.1:8081": 3, "127.0.0.1:8082": 0}}""",
            """{"value": {"nodes": {"127.0.0.1:8081": 3, "127.0.0.1:8082": 0}, "type": "roundrobin", "desc": "new 21 upstream"}}""");

        await Gateway.PassesAsync(Patch, "upstreams/p1/", """{"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "desc": "new upstream 24"}""",
            """{"value": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "desc": "new upstream 24"}, "key": "/apisix/upstreams/p1"}""");
        await Gateway.PassesAsync(Patch, "upstreams/p1/desc", "\"new 25 upstream\"",
            """{"value": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "desc": "new 25 upstream"}, "key": "/apisix/upstreams/p1"}""");
        var nodes = await Gateway.PassesAsync(Patch, "upstreams/p1/nodes", """{"127.0.0.6:8081": 3, "127.0.0.7:8082": 4}""");
        AssertContains(JsonNode.Parse("""{"value": {"type": "roundrobin", "desc": "new 25 upstream"}}""")!, nodes.Body, "");
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"127.0.0.6:8081": 3, "127.0.0.7:8082": 4}"""), nodes.Body!["value"]!["nodes"]), nodes.Text);
        var zero = await Gateway.PassesAsync(Patch, "upstreams/p1/nodes", """{"127.0.0.7:8081": 0, "127.0.0.8:8082": 4}""");
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"127.0.0.7:8081": 0, "127.0.0.8:8082": 4}"""), zero.Body!["value"]!["nodes"]), zero.Text);
    }

    /// <summary>upstream4.t TEST 1 (with a name), TEST 2 and 3 (string id, delete).</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream4_t_TEST_1_to_3_name_and_string_id()
    {
        await Gateway.PassesAsync(Put, "upstreams/u4-1", """{"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "name": "test upstream name"}""",
            """{"value": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "name": "test upstream name"}, "key": "/apisix/upstreams/u4-1"}""");
        await Gateway.PassesAsync(Put, "upstreams/a-b-c-ABC_0123-x", Node8080);
        await Gateway.PassesAsync(Delete, "upstreams/a-b-c-ABC_0123-x");
    }

    /// <summary>upstream4.t TEST 8 to 11: labels set, read, patched (merged), and a label value of the wrong type.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream4_t_TEST_8_to_11_labels()
    {
        await Gateway.PassesAsync(Put, "upstreams/l1", """{"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "labels": {"build": "16", "env": "production", "version": "v2"}}""",
            """{"value": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "labels": {"build": "16", "env": "production", "version": "v2"}}, "key": "/apisix/upstreams/l1"}""");
        await Gateway.PassesAsync(Get, "upstreams/l1", null, """{"value": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "labels": {"version": "v2", "build": "16", "env": "production"}}, "key": "/apisix/upstreams/l1"}""");
        await Gateway.PassesAsync(Patch, "upstreams/l1", """{"labels": {"build": "17"}}""",
            """{"value": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "labels": {"version": "v2", "build": "17", "env": "production"}}, "key": "/apisix/upstreams/l1"}""");
        await Gateway.FailsAsync(Put, "upstreams/l1", """{"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "labels": {"env": ["production", "release"]}}""", HttpStatusCode.BadRequest,
            "invalid configuration: property \"labels\" validation failed: failed to validate env (matching \".*\"): wrong type: expected string, got table");
    }

    /// <summary>upstream4.t TEST 12 and 13: a whole PATCH may set create_time or update_time, kept as sent; TEST 14: a PUT may not.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream4_t_TEST_12_to_14_times()
    {
        await Gateway.PassesAsync(Put, "upstreams/times", Node8080);
        await Gateway.PassesAsync(Patch, "upstreams/times", """{"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "desc": "new upstream", "create_time": 1705252779}""",
            """{"value": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "desc": "new upstream", "create_time": 1705252779}, "key": "/apisix/upstreams/times"}""");
        Assert.Equal(1705252779, (await Gateway.GetAsync("upstreams/times")).Time("create_time"));
        await Gateway.PassesAsync(Patch, "upstreams/times", """{"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "desc": "new upstream", "update_time": 1705252779}""",
            """{"value": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "desc": "new upstream", "create_time": 1705252779}, "key": "/apisix/upstreams/times"}""");
        Assert.Equal(1705252779, (await Gateway.GetAsync("upstreams/times")).Time("update_time"));

        var put = await Gateway.FailsAsync(Put, "upstreams/up_create_update_time", """{"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "create_time": 1602883670, "update_time": 1602893670}""", HttpStatusCode.BadRequest);
        Assert.StartsWith("the property is forbidden:", put.ErrorMessage, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("upstreams/up_create_update_time")).Status);
    }

    /// <summary>
    /// upstream4.t TEST 16 to 22 with a stream route where APISIX uses an HTTP route: an upstream used by a
    /// service is not deleted (APISIX's message); by a stream route neither (beyond: APISIX does not look at
    /// stream routes for upstreams, compat.md); once both are gone it is.
    /// </summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream4_t_TEST_16_to_22_an_upstream_in_use_is_not_deleted()
    {
        await Gateway.PassesAsync(Put, "upstreams/used", Node8080);
        await Gateway.PassesAsync(Put, "services/uses", """{"upstream_id": "used"}""");
        await Gateway.PassesAsync(Put, "stream_routes/uses", """{"upstream_id": "used"}""");
        await Gateway.FailsAsync(Delete, "upstreams/used", null, HttpStatusCode.BadRequest, "can not delete this upstream, stream_route [uses] is still using it now");
        await Gateway.PassesAsync(Delete, "stream_routes/uses");
        await Gateway.FailsAsync(Delete, "upstreams/used", null, HttpStatusCode.BadRequest, "can not delete this upstream, service [uses] is still using it now");
        await Gateway.PassesAsync(Delete, "services/uses");
        await Gateway.PassesAsync(Delete, "upstreams/used");
    }

    /// <summary>upstream-array-nodes.t TEST 1 to 4: the array form of nodes, set, read, deleted; a missing one is 404.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream_array_nodes_t_TEST_1_to_4()
    {
        const string Value = """{"nodes": [{"host": "127.0.0.1", "port": 8080, "weight": 1}], "type": "roundrobin", "desc": "new upstream"}""";
        await Gateway.PassesAsync(Put, "upstreams/array-1", Value, $$"""{"value": {{Value}}, "key": "/apisix/upstreams/array-1"}""");
        await Gateway.PassesAsync(Get, "upstreams/array-1", null, $$"""{"value": {{Value}}, "key": "/apisix/upstreams/array-1"}""");
        await Gateway.PassesAsync(Delete, "upstreams/array-1");
        await Gateway.FailsAsync(Delete, "upstreams/not_found", null, HttpStatusCode.NotFound);
    }

    /// <summary>upstream-array-nodes.t TEST 14: a bracketed IPv6 host in an inline upstream (a stream route's here, an HTTP route's there).</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream_array_nodes_t_TEST_14_bracketed_IPv6_host() =>
        await Gateway.PassesAsync(Put, "stream_routes/ipv6", """{"upstream": {"nodes": [{"host": "[::1]", "port": 8082, "weight": 1}], "type": "roundrobin"}}""");

    /// <summary>
    /// upstream-force-delete.t TEST 1 to 6, with a stream route where APISIX uses an HTTP route (beyond, see
    /// above): `force=anyvalue` is no force; `force=true` deletes the upstream though it is used.
    /// </summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream_force_delete_t_TEST_1_to_6()
    {
        var put = await Gateway.PassesAsync(Put, "upstreams/forced", Node8080);
        Assert.Equal(HttpStatusCode.Created, put.Status);
        await Gateway.PassesAsync(Put, "stream_routes/forced", """{"upstream_id": "forced"}""");
        await Gateway.FailsAsync(Delete, "upstreams/forced?force=anyvalue", null, HttpStatusCode.BadRequest, "can not delete this upstream, stream_route [forced] is still using it now");
        await Gateway.FailsAsync(Delete, "upstreams/forced", null, HttpStatusCode.BadRequest, "can not delete this upstream, stream_route [forced] is still using it now");
        await Gateway.PassesAsync(Delete, "upstreams/forced?force=true");
        await Gateway.PassesAsync(Delete, "stream_routes/forced");
    }
}
