using System.Net;
using System.Text.Json.Nodes;

namespace StreamGate.IntegrationTests.Admin;

/// <summary>
/// APISIX admin test blocks ported to the real gateway (issue 7, "APISIX-exact answers"): list filters, the
/// /plugin_metadata collection, sub-path PATCH. Each test names the block it follows (file and TEST number in
/// apache/apisix t/admin/); the facts carry over, the Lua does not.
/// </summary>
public sealed class AdminApisixPortTests(AdminGatewayFixture fixture) : IClassFixture<AdminGatewayFixture>
{
    private const int TestTimeoutMs = 60_000;

    private AdminGateway Gateway => fixture.Gateway;

    private async Task PutOkAsync(string path, string body)
    {
        var reply = await Gateway.PutAsync(path, body);
        Assert.True(reply.Status is HttpStatusCode.OK or HttpStatusCode.Created, $"PUT {path}: {reply}");
    }

    private static string[] Ids(AdminResponse list) => [.. list.Body!["list"]!.AsArray().Select(i => i!["value"]!["id"]!.GetValue<string>())];

    /// <summary>t/admin/filter.t TEST 18: filter by stream route service_id/upstream_id.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Filter_by_stream_route_service_id_and_upstream_id()
    {
        await PutOkAsync("services/1", """{"upstream": {"nodes": {"127.0.0.1:1980": 1}, "type": "roundrobin"}}""");
        await PutOkAsync("upstreams/1", """{"nodes": {"127.0.0.1:1980": 1}, "type": "roundrobin"}""");
        for (var i = 1; i <= 11; i++)
        {
            var target = i % 2 == 0 ? "\"service_id\": \"1\"" : "\"upstream_id\": \"1\"";
            await PutOkAsync($"stream_routes/{i}", $"{{\"server_port\": 5432, {target}}}");
        }

        // As the APISIX test sends it (ngx.encode_args appended unescaped) and as its docs write it (escaped).
        foreach (var query in (string[])["filter=service_id=1", "filter=service_id%3D1"])
        {
            var byService = await Gateway.GetAsync($"stream_routes?{query}");
            // Unpaged, in key order as etcd ranges them.
            Assert.Equal(["10", "2", "4", "6", "8"], Ids(byService));
            Assert.Equal(5, byService.Body!["total"]!.GetValue<int>());
            Assert.All(byService.Body["list"]!.AsArray(), r => Assert.Equal("1", r!["value"]!["service_id"]!.GetValue<string>()));
        }
        var byUpstream = await Gateway.GetAsync("stream_routes?filter=upstream_id%3D1");
        Assert.Equal(["1", "11", "3", "5", "7", "9"], Ids(byUpstream));

        // All conditions must hold (the docs: filter=escape_uri(key1=value1&key2=value2)); none of these routes has both.
        Assert.Empty(Ids(await Gateway.GetAsync("stream_routes?filter=service_id%3D1%26upstream_id%3D1")));
        // With paging, the filter applies first (filter.t TEST 9, for names).
        var paged = await Gateway.GetAsync("stream_routes?filter=upstream_id%3D1&page=1&page_size=10");
        Assert.Equal(6, paged.Body!["total"]!.GetValue<int>());
        // APISIX filters routes and stream routes only, and by these two keys only: the rest is ignored.
        Assert.Contains("1", Ids(await Gateway.GetAsync("upstreams?filter=upstream_id%3D2")));
        Assert.Equal(11, Ids(await Gateway.GetAsync("stream_routes?filter=server_port%3D1")).Length);
    }

    /// <summary>t/admin/stream-routes.t TEST 1: a body with "desc" twice is stored with the second one.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Stream_routes_t_TEST_1_duplicate_desc_keeps_the_last_value()
    {
        var put = await Gateway.PutAsync("stream_routes/dup-desc", """
            {"remote_addr": "127.0.0.1", "desc": "test-desc",
             "upstream": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}, "desc": "new route"}
            """);
        Assert.True(put.Status == HttpStatusCode.Created, put.ToString());
        Assert.Equal("new route", put.Body!["value"]!["desc"]!.GetValue<string>());
        var stored = await Gateway.GetAsync("stream_routes/dup-desc");
        Assert.Equal("new route", stored.Body!["value"]!["desc"]!.GetValue<string>());
        Assert.Equal("127.0.0.1", stored.Body["value"]!["remote_addr"]!.GetValue<string>());
        // The filter test counts every stream route of this shared gateway.
        Assert.Equal(HttpStatusCode.OK, (await Gateway.DeleteAsync("stream_routes/dup-desc")).Status);
    }

    /// <summary>
    /// t/admin/services.t TEST 34 and 35 (resource.lua check_forbidden_properties): create_time and update_time in
    /// the inline upstream of a PUT or POST are refused, named with their path; so is one in plugins.
    /// </summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services_t_TEST_34_35_times_inside_the_inline_upstream_are_forbidden()
    {
        const string TimedUpstream = """{"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "create_time": 1602883670, "update_time": 1602893670}""";
        (string Method, string Path, string Body, string Message)[] cases =
        [
            ("PUT", "services/forbidden-1", $$"""{"upstream": {{TimedUpstream}}}""", "the property is forbidden:  upstream.create_time"),
            ("POST", "services", $$"""{"upstream": {{TimedUpstream}}}""", "the property is forbidden:  upstream.create_time"),
            ("PUT", "stream_routes/forbidden-1", """{"upstream": {"nodes": {"127.0.0.1:8080": 1}, "update_time": 1602893670}}""", "the property is forbidden:  upstream.update_time"),
            ("PUT", "services/forbidden-2", """{"plugins": {"update_time": 1}}""", "the property is forbidden:  plugins.update_time"),
            // cjson's null is a value in Lua: still set, still forbidden.
            ("PUT", "upstreams/forbidden-1", """{"nodes": {"127.0.0.1:8080": 1}, "create_time": null}""", "the property is forbidden:  create_time"),
        ];
        foreach (var (method, path, body, message) in cases)
        {
            var reply = method == "POST" ? await Gateway.PostAsync(path, body) : await Gateway.PutAsync(path, body);
            Assert.True(reply.Status == HttpStatusCode.BadRequest, $"{method} {path}: {reply}");
            Assert.Equal(message, reply.ErrorMessage);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("services/forbidden-1")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("stream_routes/forbidden-1")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("upstreams/forbidden-1")).Status);
    }

    /// <summary>t/admin/plugin-metadata.t TEST 6: missing plugin name; TEST 7: invalid plugin name.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Plugin_metadata_without_a_name_and_with_an_unknown_one()
    {
        var missing = await Gateway.PutAsync("plugin_metadata", """{"k": "v"}""");
        Assert.Equal(HttpStatusCode.BadRequest, missing.Status);
        Assert.Equal("""{"error_msg":"missing plugin name"}""", missing.Text);

        // APISIX's error_msg exactly; which plugins there are is our hint beside it.
        var invalid = await Gateway.PutAsync("plugin_metadata/test", """{"k": "v"}""");
        Assert.Equal(HttpStatusCode.BadRequest, invalid.Status);
        Assert.Equal("invalid plugin name", invalid.ErrorMessage);
        Assert.Equal("this StreamGate version has no stream plugins yet", invalid.Hint);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("plugin_metadata/test")).Status);

        // The collection lists what is stored: nothing here.
        var list = await Gateway.GetAsync("plugin_metadata");
        Assert.Equal(HttpStatusCode.OK, list.Status);
        Assert.Equal("""{"list":[],"total":0}""", list.Text);
    }

    /// <summary>
    /// t/admin/upstream.t "patch upstream(new desc - sub path)" and "patch upstream(new nodes)" (TEST 9 and 10 in
    /// one version, 25 and 26 in another): the value at the sub-path is replaced whole, the rest is kept.
    /// </summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Sub_path_patch_replaces_desc_and_nodes()
    {
        await PutOkAsync("upstreams/sp-1", """{"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "desc": "new upstream 24"}""");

        var desc = await Gateway.PatchAsync("upstreams/sp-1/desc", "\"new 25 upstream\"");
        Assert.True(desc.Status == HttpStatusCode.OK, desc.ToString());
        Assert.Equal("new 25 upstream", desc.Body!["value"]!["desc"]!.GetValue<string>());
        Assert.Equal(1, desc.Body["value"]!["nodes"]!["127.0.0.1:8080"]!.GetValue<int>());

        var nodes = await Gateway.PatchAsync("upstreams/sp-1/nodes", """{"127.0.0.6:8081": 3, "127.0.0.7:8082": 4}""");
        Assert.True(nodes.Status == HttpStatusCode.OK, nodes.ToString());
        var stored = (await Gateway.GetAsync("upstreams/sp-1")).Body!["value"]!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"127.0.0.6:8081": 3, "127.0.0.7:8082": 4}"""), stored["nodes"]), stored.ToJsonString());
        Assert.Equal("new 25 upstream", stored["desc"]!.GetValue<string>());
        Assert.Equal("roundrobin", stored["type"]!.GetValue<string>());
    }

    /// <summary>t/admin/upstream4.t TEST 16: patch upstream with sub_path, the data is number (create_time kept).</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Sub_path_patch_with_a_number_keeps_create_time()
    {
        await PutOkAsync("upstreams/sp-2", """{"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}""");
        var before = (await Gateway.GetAsync("upstreams/sp-2")).Body!["value"]!;
        var patched = await Gateway.PatchAsync("upstreams/sp-2/retries", "1");
        Assert.True(patched.Status == HttpStatusCode.OK, patched.ToString());
        var after = (await Gateway.GetAsync("upstreams/sp-2")).Body!["value"]!;
        Assert.Equal(1, after["retries"]!.GetValue<int>());
        Assert.Equal(before["create_time"]!.GetValue<long>(), after["create_time"]!.GetValue<long>());
        Assert.True(after["update_time"]!.GetValue<long>() >= before["update_time"]!.GetValue<long>());
    }

    /// <summary>Sub-paths of services (t/admin/services.t, "patch service(new upstream)") and ssls (the snis list).</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Sub_path_patch_of_a_service_upstream_and_ssl_snis()
    {
        await PutOkAsync("services/sp-3", """{"upstream": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}, "desc": "kept"}""");
        var upstream = await Gateway.PatchAsync("services/sp-3/upstream", """{"nodes": {"127.0.0.2:8081": 2}, "type": "roundrobin"}""");
        Assert.True(upstream.Status == HttpStatusCode.OK, upstream.ToString());
        var service = (await Gateway.GetAsync("services/sp-3")).Body!["value"]!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"127.0.0.2:8081": 2}"""), service["upstream"]!["nodes"]), service.ToJsonString());
        Assert.Equal("kept", service["desc"]!.GetValue<string>());

        var (cert, key) = AdminSslTests.SelfSigned("a.test");
        await PutOkAsync("ssls/sp-4", new JsonObject { ["cert"] = cert, ["key"] = key, ["snis"] = new JsonArray("a.test") }.ToJsonString());
        var snis = await Gateway.PatchAsync("ssls/sp-4/snis", """["a.test", "b.test"]""");
        Assert.True(snis.Status == HttpStatusCode.OK, snis.ToString());
        var ssl = (await Gateway.GetAsync("ssls/sp-4")).Body!["value"]!;
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""["a.test", "b.test"]"""), ssl["snis"]), ssl.ToJsonString());
        Assert.Equal(cert, ssl["cert"]!.GetValue<string>());
        Assert.False(ssl.AsObject().ContainsKey("key"));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Sub_path_patch_errors()
    {
        await PutOkAsync("upstreams/sp-5", """{"nodes": {"127.0.0.1:8080": 1}, "desc": "text"}""");
        // Through something that is not an object.
        var through = await Gateway.PatchAsync("upstreams/sp-5/desc/x", "\"y\"");
        Assert.Equal(HttpStatusCode.BadRequest, through.Status);
        Assert.Equal("invalid sub-path: /desc", through.ErrorMessage);
        // The result is validated whole.
        var invalid = await Gateway.PatchAsync("upstreams/sp-5/retries", "\"many\"");
        Assert.Equal(HttpStatusCode.BadRequest, invalid.Status);
        Assert.StartsWith("invalid configuration: ", invalid.ErrorMessage, StringComparison.Ordinal);
        // Never a create; stream routes have no PATCH; other methods have no sub-paths.
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.PatchAsync("upstreams/sp-missing/desc", "\"x\"")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("upstreams/sp-missing")).Status);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await Gateway.PatchAsync("stream_routes/1/desc", "\"x\"")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("upstreams/sp-5/desc")).Status);
        Assert.Equal(HttpStatusCode.BadRequest, (await Gateway.PatchAsync("upstreams/sp-5/create_time", "1")).Status);
        Assert.Equal("text", (await Gateway.GetAsync("upstreams/sp-5")).Body!["value"]!["desc"]!.GetValue<string>());
    }
}
