using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using StreamGate.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace StreamGate.IntegrationTests.Robustness;

/// <summary>
/// Hostile input at the admin API of the real gateway: never a 5xx, the process stays up, and the store holds
/// exactly the objects that were acknowledged with a 2xx (each readable), nothing half-written.
/// </summary>
public sealed class AdminFuzzTests(ITestOutputHelper output)
{
    private const int Requests = 600;
    private const int MaxBody = 1024 * 1024;
    private const int FixedSeed = 20_261_122;
    private const string Root = AdminFuzzer.Root;
    private const string Keyring = "  data_encryption:\n    keyring: [\"fuzz-keyring-0123456789abcdef\"]";

    [Fact(Timeout = 180_000)]
    public async Task A_seeded_barrage_of_hostile_requests_gets_no_5xx_and_leaves_only_acknowledged_objects()
    {
        var seed = TestSeed.Get(output, FixedSeed);
        await using var backend = TestServer.Named("fuzz-backend");
        var fuzzer = new AdminFuzzer(new Random(seed), backend.Port, MaxBody);
        using var folder = StoreGatewayFolder.Create(apisixExtra: Keyring);
        await using var gateway = await GatewayProcess.StartInAsync(folder.Directory);
        using var admin = AdminHttp.For(folder);

        // Store key -> the value of the last 2xx answer that wrote it: what the store must hold.
        var model = new Dictionary<string, JsonNode>(StringComparer.Ordinal);
        var statuses = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var sent = 0;
        var previous = "none";
        // STREAMGATE_FUZZ_TRACE=<file>: every request and answer, for replaying a failure by hand.
        await using var trace = Environment.GetEnvironmentVariable("STREAMGATE_FUZZ_TRACE") is { Length: > 0 } tracePath ? new StreamWriter(tracePath) : null;
        var warmUp = new Queue<FuzzRequest>(fuzzer.WarmUp());
        while (sent < Requests)
        {
            var request = warmUp.Count > 0 ? warmUp.Dequeue() : fuzzer.Next();
            sent++;
            var context = $"seed {seed}, request {sent}: {request}\n(previous: {previous})";
            previous = $"{request} => ";
            HttpReply reply;
            try
            {
                reply = await admin.SendAsync(request.Method, request.Path, request.Body, request.Chunked, request.ExpectContinue);
            }
            catch (HttpRequestException e) when (request.Body is { Length: > MaxBody })
            {
                // The server answered without reading the whole body and closed: the client never saw the answer.
                // Writes read the body first (413), but a DELETE acts without reading it: learn its outcome by a GET.
                Count(statuses, "closed while sending an oversized body");
                Assert.False(gateway.HasExited, $"{context}: the gateway died ({e.Message})\n{gateway.Output}");
                previous += "connection closed while sending";
                if (trace is not null)
                {
                    await trace.WriteLineAsync($"{sent}: {request}\n    => connection closed while sending");
                }
                var plain = NormalizePath(request.Path.Split('?')[0]);
                if (request.Method == "DELETE" && ResourceOf(plain) is { } deletedFrom && IsPlainItemPath(plain, deletedFrom, out var deletedId))
                {
                    var key = $"/apisix/{deletedFrom}/{deletedId}";
                    var now = await admin.GetAsync($"{Root}/{deletedFrom}/{deletedId}");
                    Assert.True(now.Status is 200 or 404, $"{context}\n=> GET afterwards: {now}");
                    if (now.Status == 404)
                    {
                        model.Remove(key);
                    }
                    else
                    {
                        Assert.True(model.TryGetValue(key, out var expected) && JsonNode.DeepEquals(expected, now.Json!["value"]), $"{context}\n=> GET afterwards: {now}");
                    }
                }
                continue;
            }
            catch (HttpRequestException e)
            {
                Assert.Fail($"{context}\n=> no answer: {e.Message} {e.InnerException?.Message}; gateway {(gateway.HasExited ? "died" : "alive")}");
                throw;
            }
            Assert.False(gateway.HasExited, $"{context}: the gateway died\n{gateway.Output}");
            previous += reply.ToString();
            if (trace is not null)
            {
                await trace.WriteLineAsync($"{sent}: {request}\n    => {reply}");
            }
            Count(statuses, reply.Status.ToString(CultureInfo.InvariantCulture));
            Assert.True(reply.Status < 500, $"{context}\n=> {reply}");
            Check(model, request, reply, context);
        }
        output.WriteLine($"{sent} requests; answers: {string.Join(", ", statuses.Select(s => $"{s.Key} x{s.Value}"))}");
        output.WriteLine($"acknowledged and still stored: {model.Count} objects");

        await AssertStoreMatchesAsync(admin, model, fuzzer, $"seed {seed}, after the barrage");

        // Every stored object can be deleted (so none is stuck), then the store takes a write and traffic flows.
        foreach (var resource in (string[])["stream_routes", "services", "upstreams", "ssls"])
        {
            foreach (var key in model.Keys.Where(k => k.StartsWith($"/apisix/{resource}/", StringComparison.Ordinal)).ToList())
            {
                var id = key[(key.LastIndexOf('/') + 1)..];
                var deleted = await admin.SendAsync("DELETE", $"{Root}/{resource}/{id}?force=true");
                Assert.True(deleted.Status == 200, $"seed {seed}: deleting {key}: {deleted}");
                model.Remove(key);
            }
            Assert.Empty(await admin.ListAllAsync(resource));
        }
        var created = await admin.PutAsync($"{Root}/stream_routes/after-fuzz", RouteTo(backend.Node));
        Assert.True(created.Status == 201, $"seed {seed}: write after the barrage: {created}");
        await Through.WaitForMarkerAsync(folder.ProxyPort, "fuzz-backend", TimeSpan.FromSeconds(15));
        var control = await ControlHttp.ConfigAsync(folder.ControlPort);
        Assert.Equal(1, control["stream_routes"]!.GetValue<int>());
        Assert.False(gateway.HasExited);
    }

    [Fact(Timeout = 120_000)]
    public async Task Oversized_bodies_are_refused_with_413_at_every_write_endpoint_and_store_nothing()
    {
        await using var backend = TestServer.Named("big");
        using var folder = StoreGatewayFolder.Create();
        await using var gateway = await GatewayProcess.StartInAsync(folder.Directory);
        using var admin = AdminHttp.For(folder);
        var route = RouteTo(backend.Node);
        (string Method, string Path)[] targets =
        [
            ("PUT", "stream_routes/big"), ("PUT", "stream_routes"), ("POST", "stream_routes"),
            ("PUT", "upstreams/big"), ("POST", "upstreams"), ("PATCH", "upstreams/big"),
            ("PUT", "services/big"), ("PATCH", "services/big"), ("PUT", "ssls/big"), ("PATCH", "ssls/big"),
            ("PUT", "plugin_metadata/syslog"),
        ];
        // Content-Length with Expect: 100-continue: the server refuses before the body is sent, always with a 413.
        // Without it the client may still be sending when the server answers 413 and closes, and then sees the
        // connection end instead of the answer. A chunked body has no size up front: the server reads up to the
        // limit, answers 413 and closes, with the same race.
        (bool Expect, bool Chunked, int Size, bool ClosedIsFine)[] cases =
        [
            (true, false, MaxBody + 1, false), (true, false, 5 * MaxBody, false), (false, false, MaxBody + 1, true),
            (false, false, 5 * MaxBody, true), (false, true, MaxBody + 1, true), (false, true, 5 * MaxBody, true), (true, true, 5 * MaxBody, true),
        ];
        var refusedByClose = 0;
        foreach (var (expect, chunked, size, closedIsFine) in cases)
        {
            foreach (var (method, path) in targets)
            {
                var what = $"{method} {path} with {size} bytes{(chunked ? ", chunked" : "")}{(expect ? ", Expect: 100-continue" : "")}";
                HttpReply reply;
                try
                {
                    reply = await admin.SendAsync(method, $"{Root}/{path}", Padded(route, size), chunked, expect);
                }
                catch (HttpRequestException e)
                {
                    Assert.True(closedIsFine, $"{what}: no answer ({e.InnerException?.Message ?? e.Message})");
                    output.WriteLine($"{what}: connection closed while sending ({e.InnerException?.Message ?? e.Message})");
                    refusedByClose++;
                    Assert.False(gateway.HasExited, $"{what}: the gateway died\n{gateway.Output}");
                    continue;
                }
                Assert.True(reply.Status == 413, $"{what}: {reply}");
                Assert.Contains("invalid request body: larger than 1048576 bytes", reply.Body, StringComparison.Ordinal);
            }
        }
        output.WriteLine($"{cases.Length * targets.Length} oversized writes, {refusedByClose} refused by closing the connection, the rest with 413");
        foreach (var resource in AdminFuzzer.Resources)
        {
            Assert.Empty(await admin.ListAllAsync(resource));
        }
        Assert.Equal(404, (await admin.GetAsync($"{Root}/plugin_metadata/syslog")).Status);

        // The limit is on the body, not on the object: a valid route padded to exactly the limit is accepted.
        var exact = await admin.SendAsync("PUT", $"{Root}/stream_routes/exact", Padded(route, MaxBody), chunked: false);
        Assert.True(exact.Status == 201, $"body of exactly max_body_bytes: {exact}");
        // Chunked: Kestrel counts the chunk framing (size lines, CRLFs) against the limit too, so leave it room.
        var nearChunked = await admin.SendAsync("PUT", $"{Root}/stream_routes/exact", Padded(route, MaxBody - (16 * 1024)), chunked: true);
        Assert.True(nearChunked.Status == 200, $"chunked body just under max_body_bytes: {nearChunked}");
        Assert.Single(await admin.ListAllAsync("stream_routes"));
        Assert.False(gateway.HasExited);
    }

    // The four below pin what the first barrages found (500s on duplicate names and lone surrogates, ids no URL can
    // reach, a page number that overflowed), fixed in e23f073. Duplicate names were a 400 then; they now keep the
    // last value, as cjson does for APISIX (stream-routes.t TEST 1), and are still never a 5xx.
    [Fact(Timeout = 60_000)]
    public async Task Duplicate_property_names_keep_the_last_value_and_are_never_a_5xx()
    {
        await using var session = await Session.StartAsync();
        (string Body, string Field, string Expected)[] cases =
        [
            ("""{"desc":"a","desc":"b","upstream":{"nodes":{"127.0.0.1:1":1}}}""", "desc", "\"b\""),
            ("""{"upstream":{"nodes":{"127.0.0.1:1":1}},"upstream":{"nodes":{"127.0.0.1:2":1}}}""", "upstream", """{"nodes":{"127.0.0.1:2":1}}"""),
            ("""{"upstream":{"nodes":{"127.0.0.1:1":1,"127.0.0.1:1":2}}}""", "upstream", """{"nodes":{"127.0.0.1:1":2}}"""),
            ("""{"labels":{"k":"1","k":"2"},"upstream":{"nodes":{"127.0.0.1:1":1}}}""", "labels", """{"k":"2"}"""),
        ];
        foreach (var (body, field, expected) in cases)
        {
            var reply = await session.Admin.PutAsync($"{Root}/stream_routes/dup-{field}", body);
            Assert.True(reply.Status is 200 or 201, $"{body}: {reply}");
            var stored = await session.Admin.GetAsync($"{Root}/stream_routes/dup-{field}");
            Assert.True(stored.Status == 200, $"{body}: GET {stored}");
            Assert.Equal(expected, stored.Json!["value"]![field]!.ToJsonString());
        }
        var post = await session.Admin.SendAsync("POST", $"{Root}/upstreams", """{"nodes":{"127.0.0.1:1":1},"nodes":{"127.0.0.1:3":1}}""");
        Assert.True(post.Status == 201, $"POST with a duplicate: {post}");
        Assert.Equal("""{"127.0.0.1:3":1}""", post.Json!["value"]!["nodes"]!.ToJsonString());
        // A duplicate that makes the object invalid is refused like any invalid object: 400, never 5xx.
        var invalid = await session.Admin.PutAsync($"{Root}/stream_routes/dup-invalid", """{"server_port":1,"server_port":70000,"upstream":{"nodes":{"127.0.0.1:1":1}}}""");
        Assert.True(invalid.Status == 400, invalid.ToString());
        Assert.Equal(3, (await session.Admin.ListAllAsync("stream_routes")).Count);
        Assert.Single(await session.Admin.ListAllAsync("upstreams"));
    }

    [Fact(Timeout = 60_000)]
    public async Task Lone_surrogates_in_strings_are_a_400_not_a_500()
    {
        await using var session = await Session.StartAsync();
        string[] bodies =
        [
            """{"desc":"\ud800","upstream":{"nodes":{"127.0.0.1:1":1}}}""",
            """{"name":"x\udc00y","upstream":{"nodes":{"127.0.0.1:1":1}}}""",
            """{"upstream":{"nodes":[{"host":"127.0.0.1","port":1,"weight":1,"metadata":{"a":"\ud800"}}]}}""",
        ];
        foreach (var body in bodies)
        {
            var reply = await session.Admin.PutAsync($"{Root}/stream_routes/surrogate", body);
            Assert.True(reply.Status == 400, $"{body}: {reply}");
        }
        Assert.Empty(await session.Admin.ListAllAsync("stream_routes"));
    }

    [Fact(Timeout = 60_000)]
    public async Task Dot_segment_ids_are_refused()
    {
        await using var session = await Session.StartAsync();
        foreach (var id in (string[])[".", ".."])
        {
            var reply = await session.Admin.PutAsync($"{Root}/stream_routes", "{\"id\":\"" + id + "\",\"upstream\":{\"nodes\":{\"127.0.0.1:1\":1}}}");
            Assert.True(reply.Status == 400, $"id {id}: {reply}");
        }
        Assert.Empty(await session.Admin.ListAllAsync("stream_routes"));
    }

    [Fact(Timeout = 60_000)]
    public async Task A_page_far_past_the_end_is_empty()
    {
        await using var session = await Session.StartAsync();
        Assert.Equal(201, (await session.Admin.PutAsync($"{Root}/stream_routes/1", """{"upstream":{"nodes":{"127.0.0.1:1":1}}}""")).Status);
        var reply = await session.Admin.GetAsync($"{Root}/stream_routes?page=2147483647&page_size=500");
        Assert.Equal(200, reply.Status);
        Assert.Empty(reply.Json!["list"]!.AsArray());
        Assert.Equal(1, reply.Json!["total"]!.GetValue<int>());
    }

    /// <summary>Checks one answer against the model of acknowledged objects and updates the model.</summary>
    private static void Check(Dictionary<string, JsonNode> model, FuzzRequest request, HttpReply reply, string context)
    {
        JsonNode? json = null;
        if (reply.Body.Length > 0 && request.Method != "HEAD")
        {
            try
            {
                json = reply.Json;
            }
            catch (System.Text.Json.JsonException e)
            {
                Assert.Fail($"{context}\n=> {reply}: not JSON ({e.Message})");
            }
        }
        // The path as the server routes it: percent-decoded (except %2F) and without dot segments.
        var plainPath = NormalizePath(request.Path.Split('?')[0]);
        var resource = ResourceOf(plainPath);
        if (!reply.IsSuccess)
        {
            // A pool id path is not rewritten by the server: a 404 there means the key is not stored.
            if (reply.Status == 404 && json?["message"]?.GetValue<string>() == "Key not found" && resource is not null
                && request.Method is "GET" or "DELETE" && IsPlainItemPath(plainPath, resource, out var id))
            {
                Assert.False(model.ContainsKey($"/apisix/{resource}/{id}"), $"{context}\n=> {reply}, but it was acknowledged earlier");
            }
            return;
        }
        if (request.Method == "HEAD" || json is not JsonObject obj)
        {
            return;
        }
        switch (request.Method)
        {
            case "PUT" or "POST" or "PATCH" when obj["key"] is JsonValue keyNode && obj["value"] is JsonObject value:
            {
                var key = keyNode.GetValue<string>();
                Assert.True(resource is not null && key.StartsWith($"/apisix/{resource}/", StringComparison.Ordinal), $"{context}\n=> {reply}: key outside the resource written");
                if (resource != "plugin_metadata")
                {
                    Assert.Equal($"/apisix/{resource}/{value["id"]?.GetValue<string>()}", key);
                    Assert.NotNull(value["create_time"]);
                    // A write answers a private key only in its stored form (encrypted, as APISIX does), never as PEM.
                    Assert.False(resource == "ssls" && reply.Body.Contains("PRIVATE KEY", StringComparison.Ordinal), $"{context}\n=> {reply}: private key returned in clear");
                }
                var existed = model.ContainsKey(key);
                if (request.Method == "PATCH")
                {
                    Assert.True(existed, $"{context}\n=> {reply}: PATCH succeeded on an object never acknowledged");
                }
                else
                {
                    Assert.True(reply.Status == (existed ? 200 : 201), $"{context}\n=> {reply}: expected {(existed ? 200 : 201)} (object {(existed ? "existed" : "did not exist")})");
                }
                var acknowledged = value.DeepClone().AsObject();
                if (resource == "ssls")
                {
                    // What a read returns: the object without its private keys.
                    acknowledged.Remove("key");
                    acknowledged.Remove("keys");
                }
                model[key] = acknowledged;
                return;
            }
            case "DELETE" when obj["deleted"] is not null && obj["key"] is JsonValue deletedKey:
            {
                var key = deletedKey.GetValue<string>();
                Assert.True(model.Remove(key), $"{context}\n=> {reply}: deleted an object that was never acknowledged");
                return;
            }
            case "GET" when obj["key"] is JsonValue getKey && obj["value"] is JsonObject value:
            {
                var key = getKey.GetValue<string>();
                Assert.True(model.TryGetValue(key, out var expected), $"{context}\n=> {reply}: the store holds an object never acknowledged");
                Assert.True(JsonNode.DeepEquals(expected, value), $"{context}\n=> {reply}: stored {value.ToJsonString()}, acknowledged {expected!.ToJsonString()}");
                return;
            }
            case "GET" when obj["list"] is JsonArray list:
            {
                foreach (var item in list)
                {
                    var key = item!["key"]!.GetValue<string>();
                    Assert.True(model.TryGetValue(key, out var expected), $"{context}\n=> listed {key}, never acknowledged");
                    Assert.True(JsonNode.DeepEquals(expected, item["value"]), $"{context}\n=> listed {key} as {item["value"]!.ToJsonString()}, acknowledged {expected!.ToJsonString()}");
                }
                if (resource is not null && !request.Path.Contains('?', StringComparison.Ordinal) && (plainPath == $"{Root}/{resource}" || plainPath == $"{Root}/{resource}/"))
                {
                    var expectedCount = model.Keys.Count(k => k.StartsWith($"/apisix/{resource}/", StringComparison.Ordinal));
                    Assert.True(list.Count == expectedCount && obj["total"]!.GetValue<int>() == expectedCount,
                        $"{context}\n=> {list.Count} listed (total {obj["total"]}), {expectedCount} acknowledged");
                }
                return;
            }
            default:
                return;
        }
    }

    private static string? ResourceOf(string path)
    {
        foreach (var resource in AdminFuzzer.Resources.Append("plugin_metadata"))
        {
            if (path == $"{Root}/{resource}" || path.StartsWith($"{Root}/{resource}/", StringComparison.Ordinal))
            {
                return resource;
            }
        }
        return null;
    }

    /// <summary>Kestrel's view of a request path: %XX decoded except %2F, then "." and ".." segments removed (RFC 3986 5.2.4).</summary>
    private static string NormalizePath(string raw)
    {
        var bytes = new List<byte>();
        for (var i = 0; i < raw.Length; i++)
        {
            if (raw[i] == '%' && i + 2 < raw.Length && Uri.IsHexDigit(raw[i + 1]) && Uri.IsHexDigit(raw[i + 2]))
            {
                var b = Convert.ToByte(raw.Substring(i + 1, 2), 16);
                if (b == (byte)'/')
                {
                    bytes.AddRange("%2F"u8.ToArray());
                }
                else
                {
                    bytes.Add(b);
                }
                i += 2;
            }
            else
            {
                bytes.AddRange(Encoding.UTF8.GetBytes(raw[i].ToString()));
            }
        }
        var output = new List<string>();
        var segments = Encoding.UTF8.GetString([.. bytes]).Split('/');
        for (var i = 1; i < segments.Length; i++)
        {
            var last = i == segments.Length - 1;
            switch (segments[i])
            {
                case ".":
                    if (last)
                    {
                        output.Add("");
                    }
                    break;
                case "..":
                    if (output.Count > 0)
                    {
                        output.RemoveAt(output.Count - 1);
                    }
                    if (last)
                    {
                        output.Add("");
                    }
                    break;
                default:
                    output.Add(segments[i]);
                    break;
            }
        }
        var path = "/" + string.Join('/', output);
        // Route templates match their literal segments case-insensitively: /APISIX/ADMIN/stream_routes is served.
        return path.StartsWith(Root, StringComparison.OrdinalIgnoreCase) ? Root + path[Root.Length..] : path;
    }

    private static bool IsPlainItemPath(string path, string resource, out string id)
    {
        id = path.Length > Root.Length + resource.Length + 2 ? path[(Root.Length + resource.Length + 2)..] : "";
        return path.StartsWith($"{Root}/{resource}/", StringComparison.Ordinal) && id.Length is > 0 and <= 64
            && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');
    }

    /// <summary>After the barrage: every collection lists exactly the acknowledged objects, each readable by id with the same content.</summary>
    private static async Task AssertStoreMatchesAsync(AdminHttp admin, Dictionary<string, JsonNode> model, AdminFuzzer fuzzer, string context)
    {
        foreach (var resource in AdminFuzzer.Resources)
        {
            var prefix = $"/apisix/{resource}/";
            var expected = model.Where(m => m.Key.StartsWith(prefix, StringComparison.Ordinal)).ToDictionary(m => m.Key, m => m.Value, StringComparer.Ordinal);
            var paged = await admin.ListAllAsync(resource);
            var whole = await admin.GetAsync($"{Root}/{resource}");
            Assert.Equal(200, whole.Status);
            var wholeKeys = whole.Json!["list"]!.AsArray().Select(i => i!["key"]!.GetValue<string>()).Order(StringComparer.Ordinal).ToList();
            Assert.Equal(paged.Keys.Order(StringComparer.Ordinal), wholeKeys);
            var extra = paged.Keys.Except(expected.Keys).ToList();
            var missing = expected.Keys.Except(paged.Keys).ToList();
            Assert.True(extra.Count == 0 && missing.Count == 0,
                $"{context}: {resource}: stored but never acknowledged [{string.Join(", ", extra)}]; acknowledged but missing [{string.Join(", ", missing)}]");
            foreach (var (key, envelope) in paged)
            {
                Assert.True(JsonNode.DeepEquals(expected[key], envelope["value"]), $"{context}: {key} listed as {envelope["value"]!.ToJsonString()}, acknowledged {expected[key].ToJsonString()}");
                var id = key[prefix.Length..];
                var get = await admin.GetAsync($"{Root}/{resource}/{id}");
                Assert.True(get.Status == 200, $"{context}: GET {key}: {get}");
                Assert.True(JsonNode.DeepEquals(expected[key], get.Json!["value"]), $"{context}: GET {key}: {get}");
                Assert.Equal(envelope["modifiedIndex"]!.GetValue<long>(), get.Json!["modifiedIndex"]!.GetValue<long>());
            }
        }
        foreach (var name in fuzzer.PluginMetadataNames.Where(n => n.Length > 0 && n.All(c => char.IsAsciiLetterOrDigit(c) || c == '-')))
        {
            var get = await admin.GetAsync($"{Root}/plugin_metadata/{name}");
            var key = $"/apisix/plugin_metadata/{name}";
            Assert.True(get.Status == (model.ContainsKey(key) ? 200 : 404), $"{context}: GET {key}: {get}");
        }
    }

    private static string RouteTo(string node) =>
        new JsonObject { ["upstream"] = new JsonObject { ["nodes"] = new JsonObject { [node] = 1 } } }.ToJsonString();

    private static byte[] Padded(string json, int size)
    {
        var bytes = new byte[size];
        Array.Fill(bytes, (byte)' ');
        Encoding.UTF8.GetBytes(json).CopyTo(bytes, 0);
        return bytes;
    }

    private static void Count(SortedDictionary<string, int> counts, string key) => counts[key] = counts.GetValueOrDefault(key) + 1;

    /// <summary>A fresh gateway on a fresh folder with an admin client, for the short directed tests.</summary>
    private sealed class Session : IAsyncDisposable
    {
        private Session(StoreGatewayFolder folder, GatewayProcess gateway)
        {
            Folder = folder;
            Gateway = gateway;
            Admin = AdminHttp.For(folder);
        }

        public StoreGatewayFolder Folder { get; }

        public GatewayProcess Gateway { get; }

        public AdminHttp Admin { get; }

        public static async Task<Session> StartAsync()
        {
            var folder = StoreGatewayFolder.Create();
            try
            {
                return new Session(folder, await GatewayProcess.StartInAsync(folder.Directory));
            }
            catch
            {
                folder.Dispose();
                throw;
            }
        }

        public async ValueTask DisposeAsync()
        {
            Admin.Dispose();
            await Gateway.DisposeAsync();
            Folder.Dispose();
        }
    }
}
