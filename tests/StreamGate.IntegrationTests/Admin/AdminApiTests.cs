using System.Net;
using System.Text.Json.Nodes;

namespace StreamGate.IntegrationTests.Admin;

/// <summary>
/// The admin API over real HTTP against the real gateway: every resource and method, APISIX's bodies and
/// messages, paging and filters, PATCH merge, POST ids, referential integrity. One gateway serves the class;
/// every test works on ids of its own.
/// </summary>
public sealed class AdminApiTests(AdminGatewayFixture fixture) : IClassFixture<AdminGatewayFixture>
{
    private const int TestTimeoutMs = 60_000;

    private AdminGateway Gateway => fixture.Gateway;

    private static string Nodes(int port = 1) => $$"""{"127.0.0.1:{{port}}": 1}""";

    private static string Upstream(int port = 1, string extra = "") => $"{{\"nodes\": {Nodes(port)}{extra}}}";

    private static void AssertError(AdminResponse response, HttpStatusCode status, string message)
    {
        Assert.True(response.Status == status, $"expected {(int)status}, got {response}");
        Assert.Equal(message, response.ErrorMessage);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Put_creates_with_201_replaces_with_200_and_get_returns_the_envelope()
    {
        var created = await Gateway.PutAsync("upstreams/put-1", """{"nodes": {"127.0.0.1:1": 1}, "name": "first"}""");
        Assert.Equal(HttpStatusCode.Created, created.Status);
        Assert.Equal("application/json", created.ContentType);
        Assert.Equal("/apisix/upstreams/put-1", created.Body!["key"]!.GetValue<string>());
        var value = created.Body["value"]!;
        Assert.Equal("put-1", value["id"]!.GetValue<string>());
        Assert.Equal("first", value["name"]!.GetValue<string>());
        var createTime = value["create_time"]!.GetValue<long>();
        Assert.True(createTime > 1_600_000_000, $"create_time {createTime} is not a Unix time in seconds");
        Assert.True(value["update_time"]!.GetValue<long>() >= createTime);

        var got = await Gateway.GetAsync("upstreams/put-1");
        Assert.Equal(HttpStatusCode.OK, got.Status);
        var envelope = Assert.IsType<JsonObject>(got.Body);
        Assert.Equal(["createdIndex", "key", "modifiedIndex", "value"], envelope.Select(p => p.Key).Order(StringComparer.Ordinal));
        Assert.Equal("/apisix/upstreams/put-1", envelope["key"]!.GetValue<string>());
        Assert.Equal(envelope["createdIndex"]!.GetValue<long>(), got.ModifiedIndex);
        Assert.True(JsonNode.DeepEquals(value, envelope["value"]), $"{value.ToJsonString()} != {envelope["value"]!.ToJsonString()}");

        var replaced = await Gateway.PutAsync("upstreams/put-1", """{"nodes": {"127.0.0.1:2": 1}}""");
        Assert.Equal(HttpStatusCode.OK, replaced.Status);
        Assert.Null(replaced.Body!["value"]!["name"]);
        Assert.Equal(createTime, replaced.Body["value"]!["create_time"]!.GetValue<long>());
        var again = await Gateway.GetAsync("upstreams/put-1");
        Assert.Equal(envelope["createdIndex"]!.GetValue<long>(), again.Body!["createdIndex"]!.GetValue<long>());
        Assert.True(again.ModifiedIndex > got.ModifiedIndex);
        Assert.Equal(["127.0.0.1:2"], again.Body["value"]!["nodes"]!.AsObject().Select(n => n.Key));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Every_resource_supports_put_get_list_and_delete()
    {
        Assert.Equal(HttpStatusCode.Created, (await Gateway.PutAsync("upstreams/crud-u", Upstream())).Status);
        var bodies = new (string Path, string Body)[]
        {
            ("upstreams/crud-u2", Upstream(2)),
            ("services/crud-s", """{"upstream_id": "crud-u", "name": "crud"}"""),
            ("stream_routes/crud-r", """{"service_id": "crud-s", "server_port": 9100}"""),
        };
        foreach (var (path, body) in bodies)
        {
            var resource = path[..path.IndexOf('/', StringComparison.Ordinal)];
            var id = path[(path.IndexOf('/', StringComparison.Ordinal) + 1)..];
            var put = await Gateway.PutAsync(path, body);
            Assert.True(put.Status == HttpStatusCode.Created, $"PUT {path}: {put}");
            Assert.Equal($"/apisix/{path}", put.Body!["key"]!.GetValue<string>());
            Assert.Equal(id, put.Body["value"]!["id"]!.GetValue<string>());

            var list = await Gateway.GetAsync(resource);
            Assert.Equal(HttpStatusCode.OK, list.Status);
            var items = list.Body!["list"]!.AsArray();
            Assert.Equal(items.Count, list.Body["total"]!.GetValue<int>());
            Assert.Contains(items, i => i!["key"]!.GetValue<string>() == $"/apisix/{path}" && i["value"]!["id"]!.GetValue<string>() == id && i["modifiedIndex"] is not null);
        }
        foreach (var path in (string[])["stream_routes/crud-r", "services/crud-s", "upstreams/crud-u2", "upstreams/crud-u"])
        {
            var deleted = await Gateway.DeleteAsync(path);
            Assert.True(deleted.Status == HttpStatusCode.OK, $"DELETE {path}: {deleted}");
            // APISIX 3: etcd's count of deleted keys, "1", whatever the id (t/admin/upstream2.t, stream-routes.t TEST 8).
            Assert.True(JsonNode.DeepEquals(new JsonObject { ["deleted"] = "1", ["key"] = $"/apisix/{path}" }, deleted.Body), deleted.Text);
            var gone = await Gateway.GetAsync(path);
            Assert.Equal(HttpStatusCode.NotFound, gone.Status);
            Assert.Equal("""{"message":"Key not found"}""", gone.Text);
            Assert.Equal(HttpStatusCode.NotFound, (await Gateway.DeleteAsync(path)).Status);
        }
    }

    [Theory(Timeout = TestTimeoutMs)]
    [InlineData("stream_routes")]
    [InlineData("upstreams")]
    [InlineData("services")]
    [InlineData("ssls")]
    public async Task Missing_objects_are_404_Key_not_found(string resource)
    {
        foreach (var method in new[] { HttpMethod.Get, HttpMethod.Delete })
        {
            var response = await Gateway.SendAsync(method, $"{resource}/no-such-id");
            Assert.Equal(HttpStatusCode.NotFound, response.Status);
            Assert.Equal("""{"message":"Key not found"}""", response.Text);
        }
        if (resource != "stream_routes")
        {
            var patched = await Gateway.PatchAsync($"{resource}/no-such-id", """{"name": "x"}""");
            Assert.Equal(HttpStatusCode.NotFound, patched.Status);
            Assert.Equal("Key not found", patched.Body!["message"]!.GetValue<string>());
        }
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Put_without_an_id_in_the_path_takes_the_id_from_the_body()
    {
        var upstream = await Gateway.PutAsync("upstreams", """{"id": "body-u", "nodes": {"127.0.0.1:1": 1}}""");
        Assert.True(upstream.Status == HttpStatusCode.Created, upstream.ToString());
        Assert.Equal("/apisix/upstreams/body-u", upstream.Body!["key"]!.GetValue<string>());
        var route = await Gateway.PutAsync("stream_routes", """{"id": 4711, "upstream_id": "body-u"}""");
        Assert.True(route.Status == HttpStatusCode.Created, route.ToString());
        Assert.Equal("/apisix/stream_routes/4711", route.Body!["key"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, (await Gateway.GetAsync("stream_routes/4711")).Status);

        AssertError(await Gateway.PutAsync("stream_routes", """{"upstream_id": "body-u"}"""), HttpStatusCode.BadRequest, "missing stream route id");
        AssertError(await Gateway.PutAsync("upstreams", Upstream()), HttpStatusCode.BadRequest, "missing upstream id");
        AssertError(await Gateway.DeleteAsync("stream_routes"), HttpStatusCode.BadRequest, "missing stream route id");
        AssertError(await Gateway.PatchAsync("upstreams", """{"name": "x"}"""), HttpStatusCode.BadRequest, "missing upstream id");
        AssertError(await Gateway.PutAsync("stream_routes/4712", """{"id": "4713", "upstream_id": "body-u"}"""), HttpStatusCode.BadRequest, "wrong stream route id");
        AssertError(await Gateway.PutAsync("upstreams/body-u2", """{"id": "other", "nodes": {"127.0.0.1:1": 1}}"""), HttpStatusCode.BadRequest, "wrong upstream id");
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("stream_routes/4712")).Status);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("upstreams/other")).Status);

        // The same id in the path and the body is fine, as a string or a number.
        Assert.Equal(HttpStatusCode.OK, (await Gateway.PutAsync("stream_routes/4711", """{"id": 4711, "upstream_id": "body-u"}""")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Gateway.DeleteAsync("stream_routes/4711")).Status);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Post_generates_increasing_ids_and_refuses_one_in_the_body()
    {
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var posted = await Gateway.PostAsync("upstreams", Upstream(10 + i, """, "labels": {"suite": "post"}"""));
            Assert.True(posted.Status == HttpStatusCode.Created, posted.ToString());
            var id = posted.Body!["value"]!["id"]!.GetValue<string>();
            Assert.Matches("^[0-9]{20}$", id);
            Assert.Equal($"/apisix/upstreams/{id}", posted.Body["key"]!.GetValue<string>());
            ids.Add(id);
        }
        Assert.Equal(ids.Order(StringComparer.Ordinal), ids);
        Assert.Equal(3, ids.Distinct().Count());
        var got = await Gateway.GetAsync($"upstreams/{ids[1]}");
        Assert.Equal(HttpStatusCode.OK, got.Status);
        Assert.Equal("127.0.0.1:11", got.Body!["value"]!["nodes"]!.AsObject().Single().Key);

        var route = await Gateway.PostAsync("stream_routes", $$"""{"upstream_id": "{{ids[0]}}"}""");
        Assert.True(route.Status == HttpStatusCode.Created, route.ToString());
        Assert.Matches("^/apisix/stream_routes/[0-9]{20}$", route.Body!["key"]!.GetValue<string>());

        AssertError(await Gateway.PostAsync("stream_routes", $$"""{"id": "r1", "upstream_id": "{{ids[0]}}"}"""), HttpStatusCode.BadRequest, "wrong stream route id, do not need it");
        AssertError(await Gateway.PostAsync("upstreams", """{"id": 7, "nodes": {"127.0.0.1:1": 1}}"""), HttpStatusCode.BadRequest, "wrong upstream id, do not need it");
        // As in APISIX, an id in the path is as unwanted as one in the body.
        AssertError(await Gateway.PostAsync("upstreams/p1", Upstream()), HttpStatusCode.BadRequest, "wrong upstream id, do not need it");
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("upstreams/p1")).Status);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Client_sent_create_time_and_update_time_are_forbidden_in_PUT_and_POST_and_kept_from_PATCH()
    {
        AssertError(await Gateway.PutAsync("upstreams/ct-1", """{"nodes": {"127.0.0.1:1": 1}, "create_time": 1}"""), HttpStatusCode.BadRequest, "the property is forbidden:  create_time");
        AssertError(await Gateway.PutAsync("upstreams/ct-1", """{"nodes": {"127.0.0.1:1": 1}, "update_time": 1}"""), HttpStatusCode.BadRequest, "the property is forbidden:  update_time");
        AssertError(await Gateway.PostAsync("stream_routes", """{"upstream": {"nodes": {"127.0.0.1:1": 1}}, "create_time": 1}"""), HttpStatusCode.BadRequest, "the property is forbidden:  create_time");
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("upstreams/ct-1")).Status);

        Assert.Equal(HttpStatusCode.Created, (await Gateway.PutAsync("upstreams/ct-1", Upstream())).Status);
        // APISIX t/admin/upstream4.t TEST 12 and 13: a PATCH may set them, and they are kept as sent.
        Assert.Equal(HttpStatusCode.OK, (await Gateway.PatchAsync("upstreams/ct-1", """{"create_time": 1705252779}""")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Gateway.PatchAsync("upstreams/ct-1", """{"update_time": 1705252780, "desc": "x"}""")).Status);
        var patched = (await Gateway.GetAsync("upstreams/ct-1")).Body!["value"]!;
        Assert.Equal(1705252779, patched["create_time"]!.GetValue<long>());
        Assert.Equal(1705252780, patched["update_time"]!.GetValue<long>());
        AssertError(await Gateway.PatchAsync("upstreams/ct-1", """{"create_time": "yesterday"}"""), HttpStatusCode.BadRequest, "invalid configuration: property \"create_time\" validation failed: wrong type: expected integer, got string");
    }

    public static TheoryData<string, string, string?, string, bool> InvalidWrites => new()
    {
        // method, path, body, expected error_msg, exact (else prefix)
        { "PUT", "stream_routes/bad-1", """{"upstream": {"nodes": {"127.0.0.1:1": 1}}, "foo": 1}""", "invalid configuration: additional properties forbidden, found foo", true },
        { "PUT", "stream_routes/bad-2", """{"upstream": {"nodes": {"127.0.0.1:1": 1}}, "server_port": 70000}""", "invalid configuration: property \"server_port\" validation failed: ", false },
        { "PUT", "stream_routes/bad-3", """{"upstream": {"nodes": {"127.0.0.1:1": 1}, "timeout": {"connect": 0}}}""", "invalid configuration: property \"upstream\" validation failed: property \"timeout\" validation failed: property \"connect\" validation failed: ", false },
        { "PUT", "stream_routes/bad-4", """{"upstream": {"nodes": {"127.0.0.1:1": 1}}, "remote_addr": ":/8"}""", "invalid remote_addr: :/8", false },
        { "PUT", "stream_routes/bad-5", """{"upstream": {"nodes": {"127.0.0.1:1": 1}}, "plugins": {"no-such-plugin": {}}}""", "unknown plugin [no-such-plugin]", true },
        { "PUT", "services/bad-6", """{"plugins": {"no-such-plugin": {}}}""", "unknown plugin [no-such-plugin]", true },
        { "PUT", "stream_routes/bad-7", """{"upstream_id": "missing-u"}""", "failed to fetch upstream info by upstream id [missing-u], response code: 404", true },
        { "PUT", "stream_routes/bad-8", """{"service_id": "missing-s"}""", "failed to fetch service info by service id [missing-s], response code: 404", true },
        { "PUT", "services/bad-9", """{"upstream_id": "missing-u"}""", "failed to fetch upstream info by upstream id [missing-u], response code: 404", true },
        { "POST", "stream_routes", """{"upstream_id": "missing-u"}""", "failed to fetch upstream info by upstream id [missing-u], response code: 404", true },
        { "PUT", "upstreams/bad-10", """{"type": "roundrobin"}""", "invalid configuration: property \"nodes\" is required", true },
        { "PUT", "upstreams/bad-11", """{"nodes": {"127.0.0.1:1": 1}, "type": "magic"}""", "invalid configuration: property \"type\" validation failed: ", false },
        { "PUT", "stream_routes/bad-12", "{\"upstream\": ", "invalid request body: ", false },
        { "PUT", "stream_routes/bad-13", "", "invalid request body: empty", true },
        { "PUT", "stream_routes/bad-14", "[1, 2]", "invalid request body: expected a JSON object", false },
        { "PUT", "stream_routes/bad%20id", """{"upstream": {"nodes": {"127.0.0.1:1": 1}}}""", "invalid configuration: property \"id\" validation failed: ", false },
        { "PUT", "upstreams/" + new string('x', 65), """{"nodes": {"127.0.0.1:1": 1}}""", "invalid configuration: property \"id\" validation failed: ", false },
        { "PUT", "ssls/bad-15", """{"cert": "not a certificate, but long enough to pass the length check of the schema for a cert field, which wants 128 characters", "key": "not a key either, but long enough", "snis": ["a.test"]}""", "invalid configuration: ", false },
    };

    [Theory(Timeout = TestTimeoutMs)]
    [MemberData(nameof(InvalidWrites))]
    public async Task Invalid_writes_are_400_with_APISIX_messages_and_store_nothing(string method, string path, string? body, string expected, bool exact)
    {
        var before = await Gateway.GetAsync(path.Contains('/', StringComparison.Ordinal) ? path[..path.IndexOf('/', StringComparison.Ordinal)] : path);
        var response = await Gateway.SendAsync(new HttpMethod(method), path, body);
        Assert.True(response.Status == HttpStatusCode.BadRequest, $"{method} {path}: {response}");
        Assert.NotNull(response.ErrorMessage);
        if (exact)
        {
            Assert.Equal(expected, response.ErrorMessage);
        }
        else
        {
            Assert.StartsWith(expected, response.ErrorMessage, StringComparison.Ordinal);
        }
        if (path.Contains('/', StringComparison.Ordinal) && !path.Contains('%', StringComparison.Ordinal) && path.Length < 60)
        {
            Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync(path)).Status);
        }
        else if (method == "POST")
        {
            var after = await Gateway.GetAsync(path);
            Assert.Equal(before.Body!["total"]!.GetValue<int>(), after.Body!["total"]!.GetValue<int>());
        }
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Bodies_over_max_body_bytes_are_413()
    {
        var padding = new string('x', (int)AdminGatewayFixture.MaxBodyBytes);
        var response = await Gateway.PutAsync("upstreams/big", $$"""{"nodes": {"127.0.0.1:1": 1}, "desc": "{{padding}}"}""");
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.Status);
        Assert.Equal($"invalid request body: larger than {AdminGatewayFixture.MaxBodyBytes} bytes", response.ErrorMessage);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("upstreams/big")).Status);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Patch_merges_upstreams()
    {
        var created = await Gateway.PutAsync("upstreams/patch-u", """{"nodes": {"127.0.0.1:1": 1}, "name": "before", "desc": "to be removed", "timeout": {"connect": 3, "send": 4, "read": 5}}""");
        Assert.Equal(HttpStatusCode.Created, created.Status);
        var createTime = created.Body!["value"]!["create_time"]!.GetValue<long>();

        var patched = await Gateway.PatchAsync("upstreams/patch-u", """{"name": "after", "desc": null, "nodes": {"127.0.0.1:2": 3}, "timeout": {"read": 9}}""");
        Assert.True(patched.Status == HttpStatusCode.OK, patched.ToString());
        var value = (await Gateway.GetAsync("upstreams/patch-u")).Body!["value"]!;
        Assert.Equal("after", value["name"]!.GetValue<string>());
        Assert.Null(value["desc"]);
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"127.0.0.1:1": 1, "127.0.0.1:2": 3}"""), value["nodes"]), value["nodes"]!.ToJsonString());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"connect": 3, "send": 4, "read": 9}"""), value["timeout"]), value["timeout"]!.ToJsonString());
        Assert.Equal("patch-u", value["id"]!.GetValue<string>());
        Assert.Equal(createTime, value["create_time"]!.GetValue<long>());
        Assert.NotNull(value["update_time"]);

        // null removes a node; an invalid result is refused and the stored object is unchanged.
        Assert.Equal(HttpStatusCode.OK, (await Gateway.PatchAsync("upstreams/patch-u", """{"nodes": {"127.0.0.1:1": null}}""")).Status);
        Assert.Equal(["127.0.0.1:2"], (await Gateway.GetAsync("upstreams/patch-u")).Body!["value"]!["nodes"]!.AsObject().Select(p => p.Key));
        var invalid = await Gateway.PatchAsync("upstreams/patch-u", """{"retries": -1}""");
        Assert.Equal(HttpStatusCode.BadRequest, invalid.Status);
        Assert.StartsWith("invalid configuration: property \"retries\" validation failed", invalid.ErrorMessage, StringComparison.Ordinal);
        Assert.Null((await Gateway.GetAsync("upstreams/patch-u")).Body!["value"]!["retries"]);
        AssertError(await Gateway.PatchAsync("upstreams/patch-u", """{"id": "other"}"""), HttpStatusCode.BadRequest, "wrong upstream id");
        AssertError(await Gateway.PatchAsync("upstreams/patch-u", "[]"), HttpStatusCode.BadRequest, "invalid request body: expected a JSON object, got array");
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Patch_merges_services_and_checks_references()
    {
        Assert.Equal(HttpStatusCode.Created, (await Gateway.PutAsync("upstreams/patch-su", Upstream())).Status);
        Assert.Equal(HttpStatusCode.Created, (await Gateway.PutAsync("services/patch-s", """{"upstream_id": "patch-su", "labels": {"a": "1"}}""")).Status);
        var patched = await Gateway.PatchAsync("services/patch-s", """{"name": "svc", "labels": {"b": "2"}}""");
        Assert.True(patched.Status == HttpStatusCode.OK, patched.ToString());
        var value = (await Gateway.GetAsync("services/patch-s")).Body!["value"]!;
        Assert.Equal("svc", value["name"]!.GetValue<string>());
        Assert.Equal("patch-su", value["upstream_id"]!.GetValue<string>());
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse("""{"a": "1", "b": "2"}"""), value["labels"]), value["labels"]!.ToJsonString());
        AssertError(await Gateway.PatchAsync("services/patch-s", """{"upstream_id": "missing-u"}"""), HttpStatusCode.BadRequest, "failed to fetch upstream info by upstream id [missing-u], response code: 404");
        Assert.Equal("patch-su", (await Gateway.GetAsync("services/patch-s")).Body!["value"]!["upstream_id"]!.GetValue<string>());
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Patch_on_stream_routes_is_405()
    {
        Assert.Equal(HttpStatusCode.Created, (await Gateway.PutAsync("stream_routes/patch-r", """{"upstream": {"nodes": {"127.0.0.1:1": 1}}}""")).Status);
        var response = await Gateway.PatchAsync("stream_routes/patch-r", """{"name": "x"}""");
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.Status);
        Assert.Contains("PATCH", response.ErrorMessage, StringComparison.OrdinalIgnoreCase);
        Assert.Null((await Gateway.GetAsync("stream_routes/patch-r")).Body!["value"]!["name"]);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Deleting_what_is_still_referenced_is_refused_unless_forced()
    {
        Assert.Equal(HttpStatusCode.Created, (await Gateway.PutAsync("upstreams/ref-u", Upstream())).Status);
        Assert.Equal(HttpStatusCode.Created, (await Gateway.PutAsync("upstreams/ref-u2", Upstream())).Status);
        Assert.Equal(HttpStatusCode.Created, (await Gateway.PutAsync("services/ref-s", """{"upstream_id": "ref-u"}""")).Status);
        Assert.Equal(HttpStatusCode.Created, (await Gateway.PutAsync("stream_routes/ref-r", """{"service_id": "ref-s"}""")).Status);
        Assert.Equal(HttpStatusCode.Created, (await Gateway.PutAsync("stream_routes/ref-r2", """{"upstream_id": "ref-u2"}""")).Status);

        AssertError(await Gateway.DeleteAsync("services/ref-s"), HttpStatusCode.BadRequest, "can not delete this service directly, stream_route [ref-r] is still using it now");
        AssertError(await Gateway.DeleteAsync("upstreams/ref-u"), HttpStatusCode.BadRequest, "can not delete this upstream, service [ref-s] is still using it now");
        AssertError(await Gateway.DeleteAsync("upstreams/ref-u2"), HttpStatusCode.BadRequest, "can not delete this upstream, stream_route [ref-r2] is still using it now");
        Assert.Equal(HttpStatusCode.OK, (await Gateway.GetAsync("services/ref-s")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Gateway.GetAsync("upstreams/ref-u")).Status);

        // force=true skips the check (APISIX's escape hatch); the referencing objects stay.
        var forced = await Gateway.DeleteAsync("services/ref-s?force=true");
        Assert.True(forced.Status == HttpStatusCode.OK, forced.ToString());
        Assert.Equal("""{"deleted":"1","key":"/apisix/services/ref-s"}""", forced.Text);
        Assert.Equal(HttpStatusCode.OK, (await Gateway.DeleteAsync("upstreams/ref-u2?force=true")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Gateway.GetAsync("stream_routes/ref-r")).Status);

        // Once nothing references it, a plain delete works.
        Assert.Equal(HttpStatusCode.OK, (await Gateway.DeleteAsync("upstreams/ref-u")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Gateway.DeleteAsync("stream_routes/ref-r")).Status);
        Assert.Equal(HttpStatusCode.OK, (await Gateway.DeleteAsync("stream_routes/ref-r2")).Status);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Lists_page_and_filter_by_name_and_label()
    {
        for (var i = 0; i < 12; i++)
        {
            var name = i % 3 == 0 ? $"paging-web-{i}" : $"paging-db-{i}";
            var env = i % 2 == 0 ? "prod" : "dev";
            var put = await Gateway.PutAsync($"upstreams/page-{i:D2}", $$"""{"nodes": {"127.0.0.1:1": 1}, "name": "{{name}}", "labels": {"suite": "paging", "env": "{{env}}"} }""");
            Assert.True(put.Status == HttpStatusCode.Created, put.ToString());
        }

        // APISIX's label filter matches a label's key only (t/admin/filter.t TEST 11): "suite", never "suite:paging".
        Assert.Equal(0, (await Gateway.GetAsync("upstreams?label=suite:paging")).Body!["total"]!.GetValue<int>());
        var all = await Gateway.GetAsync("upstreams?name=%5Epaging-");
        Assert.Equal(12, all.Body!["total"]!.GetValue<int>());
        Assert.Equal(12, all.Body["list"]!.AsArray().Count);
        // Unpaged: key order, as etcd ranges them; each item an envelope.
        Assert.Equal(Enumerable.Range(0, 12).Select(i => $"page-{i:D2}"), all.Body["list"]!.AsArray().Select(i => i!["value"]!["id"]!.GetValue<string>()));

        var first = await Gateway.GetAsync("upstreams?name=%5Epaging-&page=1&page_size=10");
        Assert.Equal(12, first.Body!["total"]!.GetValue<int>());
        Assert.Equal(10, first.Body["list"]!.AsArray().Count);
        var second = await Gateway.GetAsync("upstreams?name=%5Epaging-&page=2&page_size=10");
        Assert.Equal(12, second.Body!["total"]!.GetValue<int>());
        Assert.Equal(["page-10", "page-11"], second.Body["list"]!.AsArray().Select(i => i!["value"]!["id"]!.GetValue<string>()));
        var third = await Gateway.GetAsync("upstreams?name=%5Epaging-&page=3&page_size=10");
        Assert.Empty(third.Body!["list"]!.AsArray());
        // Paging needs both numbers; otherwise the whole list (v3_adapter.lua pagination).
        Assert.Equal(12, (await Gateway.GetAsync("upstreams?name=%5Epaging-&page=1")).Body!["list"]!.AsArray().Count);
        Assert.Equal(12, (await Gateway.GetAsync("upstreams?name=%5Epaging-&page=x&page_size=10")).Body!["list"]!.AsArray().Count);
        Assert.Equal(12, (await Gateway.GetAsync("upstreams?name=%5Epaging-&page=1&page_size=500")).Body!["list"]!.AsArray().Count);
        // A page below 1 is page 1; a hexadecimal number is a number (Lua's tonumber).
        Assert.Equal(10, (await Gateway.GetAsync("upstreams?name=%5Epaging-&page=0&page_size=10")).Body!["list"]!.AsArray().Count);
        Assert.Equal(["page-10", "page-11"], (await Gateway.GetAsync("upstreams?name=%5Epaging-&page=0x2&page_size=10")).Body!["list"]!.AsArray().Select(i => i!["value"]!["id"]!.GetValue<string>()));

        foreach (var size in (string[])["9", "501", "-1"])
        {
            var refused = await Gateway.GetAsync($"upstreams?page=1&page_size={size}");
            Assert.Equal(HttpStatusCode.BadRequest, refused.Status);
            Assert.Equal("page_size must be between 10 and 500", refused.Text);
        }

        var web = await Gateway.GetAsync("upstreams?name=paging-web");
        Assert.Equal(4, web.Body!["total"]!.GetValue<int>());
        Assert.All(web.Body["list"]!.AsArray(), i => Assert.StartsWith("paging-web-", i!["value"]!["name"]!.GetValue<string>(), StringComparison.Ordinal));
        var anyEnv = await Gateway.GetAsync("upstreams?label=env");
        Assert.Equal(12, anyEnv.Body!["total"]!.GetValue<int>());
        var both = await Gateway.GetAsync("upstreams?name=paging-web-%5B06%5D&label=env");
        Assert.Equal(["page-00", "page-06"], both.Body!["list"]!.AsArray().Select(i => i!["value"]!["id"]!.GetValue<string>()));
        var none = await Gateway.GetAsync("upstreams?name=no-such-name");
        Assert.Equal("""{"list":[],"total":0}""", none.Text);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Plugins_schema_and_unknown_paths()
    {
        var list = await Gateway.GetAsync("plugins/list?subsystem=stream");
        Assert.Equal(HttpStatusCode.OK, list.Status);
        var names = list.Body!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        Assert.Equal(names.Order(StringComparer.Ordinal), names);
        foreach (var name in names)
        {
            var plugin = await Gateway.GetAsync($"plugins/{name}?subsystem=stream");
            Assert.True(plugin.Status == HttpStatusCode.OK, $"plugins/{name}: {plugin}");
            Assert.IsType<JsonObject>(plugin.Body);
        }
        var unknownPlugin = await Gateway.GetAsync("plugins/no-such-plugin?subsystem=stream");
        Assert.Equal(HttpStatusCode.NotFound, unknownPlugin.Status);
        Assert.Contains("no-such-plugin", unknownPlugin.ErrorMessage, StringComparison.Ordinal);

        var schema = await Gateway.GetAsync("schema/stream_route");
        Assert.Equal(HttpStatusCode.OK, schema.Status);
        Assert.Equal("application/json", schema.ContentType);
        var properties = Assert.IsType<JsonObject>(schema.Body!["properties"]);
        foreach (var field in (string[])["id", "remote_addr", "server_addr", "server_port", "upstream", "upstream_id", "service_id", "plugins"])
        {
            Assert.True(properties.ContainsKey(field), $"schema/stream_route has no {field}");
        }
        Assert.False(schema.Body["additionalProperties"]!.GetValue<bool>());
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("schema/no-such-schema")).Status);

        var unknownResource = await Gateway.GetAsync("routes");
        Assert.Equal(HttpStatusCode.NotFound, unknownResource.Status);
        Assert.NotNull(unknownResource.ErrorMessage);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("stream_routes/a/b")).Status);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, (await Gateway.SendAsync(HttpMethod.Options, "upstreams/x")).Status);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Plugin_metadata_for_an_unknown_plugin()
    {
        AssertError(await Gateway.PutAsync("plugin_metadata/no-such-plugin", """{"log_format": {"a": "$remote_addr"}}"""), HttpStatusCode.BadRequest, "invalid plugin name");
        var missing = await Gateway.GetAsync("plugin_metadata/no-such-plugin");
        Assert.Equal(HttpStatusCode.NotFound, missing.Status);
        Assert.Equal("""{"message":"Key not found"}""", missing.Text);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.DeleteAsync("plugin_metadata/no-such-plugin")).Status);
        AssertError(await Gateway.PutAsync("plugin_metadata/no-such-plugin", ""), HttpStatusCode.BadRequest, "invalid request body: empty");
    }
}
