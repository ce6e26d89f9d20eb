using System.Globalization;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using System.Text.Json.Nodes;

namespace StreamGate.IntegrationTests.Robustness;

/// <summary>One generated admin request: method, raw path (with query), body bytes (or none), and how the body is framed.</summary>
internal sealed record FuzzRequest(string Method, string Path, byte[]? Body, bool Chunked, string Kind)
{
    public bool ExpectContinue { get; init; }

    public override string ToString()
    {
        var body = Body is null ? "(no body)" : Body.Length > 200 ? $"{Body.Length} bytes: {Encoding.UTF8.GetString(Body, 0, 200)}..." : Encoding.UTF8.GetString(Body);
        var path = Path.Length > 200 ? Path[..200] + $"...({Path.Length} chars)" : Path;
        return $"[{Kind}] {Method} {path}{(Chunked ? " (chunked)" : "")}{(ExpectContinue ? " (Expect: 100-continue)" : "")} {body}";
    }
}

/// <summary>
/// Generates admin API requests from a seeded <see cref="Random"/>: every endpoint and method, valid objects (so
/// the store fills up and references resolve), the same objects with one value replaced by a wrong type, malformed
/// JSON, oversized and deeply nested bodies, and hostile ids in the path and in the body.
/// </summary>
internal sealed class AdminFuzzer
{
    public const string Root = "/apisix/admin";
    public static readonly string[] Resources = ["stream_routes", "upstreams", "services", "ssls"];

    // Ids that are valid and few, so writes, references, reads and deletes collide.
    private static readonly string[] PoolIds = ["1", "2", "3", "r1", "u1", "s1", "a-b_c.d", "...", "-1", new string('x', 64)];

    private static readonly string[] PluginNames = ["syslog", "prometheus", "limit-conn", "ip-restriction", "x", "", "..", "%2e%2e", "a%2Fb", "%00", new string('p', 300)];

    // Raw path segments: traversal, encodings, NUL, spaces, unicode, overlong. Sent exactly as written.
    private static readonly string[] HostileUrlIds =
    [
        "", ".", "..", "../x", "..%2Fx", "%2e", "%2e%2e", "%2E%2E%2Fetc%2Fpasswd", "./1", "1/..", "x/../../y", "1/extra",
        "%2F", "a%2Fb", "%5C", "a%5Cb", "%00", "a%00b", "%20", "a%20b", "%09", "%0d%0aX-Injected:%201", "%C3%BC", "%F0%9F%99%82",
        "%FF%FE", "%", "%zz", "%25", "%23", "a;b", "a:b", "~", "CON", "0", "1.0", "1e3", "00000000000000000000000001",
        new string('a', 65), new string('9', 1000), new string('z', 6000), new string('b', 9000), "%C0%AE%C0%AE", "*", "?", "%3F",
    ];

    // Values for "id" in a body ("." and "..": valid by the pattern, but a URL can never name them).
    private static readonly string[] HostileBodyIds =
    [
        "\".\"", "\"..\"", "\"\\ud800\"",
        "\"\"", "\"../x\"", "\"a/b\"", "\"a b\"", "\"\\u0000\"", "\"ü\"", "\"🙂\"", $"\"{new string('a', 65)}\"", "0", "-1", "1.5", "1e400",
        "123456789012345678901234567890", "true", "null", "[]", "{}", "[\"1\"]", "{\"id\":1}", "\"...\"", "\"-\"", "7", "\"7\"",
    ];

    // Replacements for one value of a valid object: wrong types, out of range numbers, nested wrong types.
    private static readonly string[] WrongValues =
    [
        "[]", "[1,\"a\",null]", "[{}]", "{}", "{\"a\":{\"b\":[]}}", "0", "-1", "-0", "1.5", "1e400", "-1e400", "1e-400", "65536", "65535",
        "123456789012345678901234567890", "9223372036854775808", "-9223372036854775809", "true", "false", "null", "\"\"", "\"x\"",
        "\"127.0.0.1:0\"", "\"[::1]:99999\"", "\"10.0.0.0/33\"", "\"::/129\"", "\"\\u0000\"", "\"ü🙂\"", "\"roundrobin\"", "\"chash\"",
        "{\"127.0.0.1:1\":\"1\"}", "{\"127.0.0.1:1\":-1}", "{\"127.0.0.1:1\":1.5}", "{\"\":1}", "[{\"host\":1}]", "[{\"host\":\"h\",\"port\":0,\"weight\":1}]",
        "{\"connect\":\"1\"}", "{\"connect\":0}", "{\"connect\":-1,\"send\":[],\"read\":{}}", "{\"active\":{}}", "{\"limit-conn\":[]}",
        "\"" + new string('l', 300) + "\"", "\"" + new string('m', 100_000) + "\"", Nest(20, "1"), Nest(40, "1"),
        // Duplicate names (the last one wins, as in APISIX) and lone UTF-16 surrogates (JSON that parses but cannot
        // be written back as it is).
        "{\"a\":1,\"a\":2}", "{\"127.0.0.1:1\":1,\"127.0.0.1:1\":2}", "[{\"host\":\"h\",\"host\":\"h\"}]", "\"\\ud800\"", "\"x\\udc00y\"",
        "{\"k\":\"\\udfff\"}",
    ];

    private static readonly string[] Malformed =
    [
        "", " ", "\n\t", "{", "}", "[", "]", "{\"a\"", "{\"a\":}", "{,}", "{'a':1}", "{a:1}", "{\"a\":1,}", "[1,]", "{}x", "{} {}", "/* c */ {}",
        "// c\n{}", "\uFEFF{}", "NaN", "Infinity", "-Infinity", "01", "\"str\"", "123", "true", "null", "[]", "[{}]", "{\"a\":\"\\x\"}", "{\"a\":\"\\u12\"}",
        "{\"a\":\"unterminated}", "{\"a\":1}}}", "{\"a\":\"\u0001\"}", "{\"a\":tru}", "{\"a\":1e}", "{\"a\":-}", "{\"a\":.5}", "{\"a\":+1}",
        "{\"upstream\":{\"nodes\":{\"127.0.0.1:1\":1}}", "\0", "{\"\0\":1}",
        "{\"upstream\":{\"nodes\":{\"127.0.0.1:1\":1}},\"upstream\":{\"nodes\":{\"127.0.0.1:1\":1}}}", "{\"desc\":\"\\ud800\"}", "{\"\\ud800\":1}",
    ];

    private readonly Random _random;
    private readonly int _backendPort;
    private readonly string _certPem;
    private readonly string _keyPem;
    private readonly long _maxBody;

    public AdminFuzzer(Random random, int backendPort, long maxBody)
    {
        _random = random;
        _backendPort = backendPort;
        _maxBody = maxBody;
        // A real certificate and key, so ssl writes can succeed and the key-at-rest path runs.
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=fuzz.test", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        _certPem = certificate.ExportCertificatePem();
        _keyPem = key.ExportPkcs8PrivateKeyPem();
    }

    public IEnumerable<string> PluginMetadataNames => PluginNames;

    private bool Chance(double p) => _random.NextDouble() < p;

    private T Pick<T>(IReadOnlyList<T> items) => items[_random.Next(items.Count)];

    private static string Nest(int depth, string inner) => string.Concat(Enumerable.Repeat("[", depth)) + inner + string.Concat(Enumerable.Repeat("]", depth));

    /// <summary>Valid writes first (upstreams before what refers to them), so the barrage meets existing objects.</summary>
    public IEnumerable<FuzzRequest> WarmUp()
    {
        foreach (var resource in (string[])["upstreams", "services", "stream_routes", "ssls", "stream_routes"])
        {
            foreach (var id in PoolIds.Take(4))
            {
                yield return new FuzzRequest("PUT", $"{Root}/{resource}/{id}", Encode(Valid(resource, withId: false)), false, "warm-up");
            }
        }
    }

    public FuzzRequest Next()
    {
        var roll = _random.NextDouble();
        string path;
        string? resource = null;
        if (roll < 0.70)
        {
            resource = Pick(Resources);
            path = $"{Root}/{resource}";
            var idRoll = _random.NextDouble();
            if (idRoll < 0.55)
            {
                path += "/" + Pick(PoolIds);
            }
            else if (idRoll < 0.85)
            {
                path += "/" + Pick(HostileUrlIds);
            }
            else if (idRoll < 0.90)
            {
                path += "/";
            }
        }
        else if (roll < 0.80)
        {
            resource = "plugin_metadata";
            path = $"{Root}/plugin_metadata/{Pick(PluginNames)}";
        }
        else if (roll < 0.85)
        {
            path = Chance(0.5) ? $"{Root}/plugins/list" : $"{Root}/plugins/{Pick(PluginNames)}";
        }
        else if (roll < 0.90)
        {
            path = $"{Root}/schema/{Pick<string>(["stream_route", "upstream", "route", "ssl", "..", "%00", new string('s', 2000)])}";
        }
        else
        {
            path = Pick<string>([Root, Root + "/", Root + "//stream_routes", Root + "/stream_routes//1", Root + "/routes/1", Root + "/consumers",
                Root + "/stream_routes/1/2/3", "/apisix/admin/../admin/stream_routes", "/apisix/admin/%73tream_routes", "/APISIX/ADMIN/stream_routes",
                "/apisix/admin/stream_routes%2F1", "/", "/apisix", "/v1/config"]);
        }
        if (Chance(0.12))
        {
            path += Pick<string>(["?force=true", "?force=TRUE", "?page=0", "?page=-1&page_size=10", "?page=1&page_size=9", "?page=1&page_size=501",
                "?page=abc", "?page_size=%00", "?name=%00", "?name=a&name=b", "?label=%00:%00", "?label=k:v", "?label=:", "?page=2&page_size=10",
                "?subsystem=http", "?subsystem=stream", "?api_key=wrong", "?" + new string('q', 3000) + "=1", "?page=99999999999"]);
        }

        var method = Pick<string>(["GET", "GET", "PUT", "PUT", "PUT", "POST", "POST", "PATCH", "PATCH", "DELETE", "DELETE", "HEAD", "OPTIONS", "FOO"]);
        var chunked = Chance(0.2);
        var bodyRoll = _random.NextDouble();
        var kind = resource ?? "other";
        if (bodyRoll < 0.12 && method is "GET" or "DELETE" or "HEAD" or "OPTIONS")
        {
            return new FuzzRequest(method, path, null, false, "no body");
        }
        if (bodyRoll < 0.40)
        {
            return new FuzzRequest(method, path, Encode(Valid(kind, withId: Chance(0.3))), chunked, "valid");
        }
        if (bodyRoll < 0.65)
        {
            return new FuzzRequest(method, path, Encode(Mutated(kind)), chunked, "wrong type");
        }
        if (bodyRoll < 0.85)
        {
            return new FuzzRequest(method, path, Encode(MalformedText(kind)), chunked, "malformed");
        }
        if (bodyRoll < 0.92)
        {
            return new FuzzRequest(method, path, Encode(DeepText(kind)), chunked, "deep");
        }
        return new FuzzRequest(method, path, HugeBody(kind), chunked, "huge") { ExpectContinue = Chance(0.5) };
    }

    private static byte[] Encode(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>A valid object of the kind (ids from the pool, so references may or may not resolve).</summary>
    public string Valid(string kind, bool withId)
    {
        var obj = ValidObject(kind);
        if (!withId)
        {
            return obj.ToJsonString();
        }
        var roll = _random.NextDouble();
        if (roll < 0.6)
        {
            obj["id"] = Pick(PoolIds);
            return obj.ToJsonString();
        }
        if (roll < 0.7)
        {
            obj["id"] = _random.Next(1, 5);
            return obj.ToJsonString();
        }
        obj["id"] = "__ID__";
        return obj.ToJsonString().Replace("\"__ID__\"", Pick(HostileBodyIds), StringComparison.Ordinal);
    }

    private JsonObject ValidObject(string kind)
    {
        switch (kind)
        {
            case "stream_routes":
            {
                var o = new JsonObject();
                switch (_random.Next(4))
                {
                    case 0:
                    case 1:
                        o["upstream"] = Upstream();
                        break;
                    case 2:
                        o["upstream_id"] = Pick(PoolIds);
                        break;
                    default:
                        o["service_id"] = Pick(PoolIds);
                        break;
                }
                AddCommon(o);
                if (Chance(0.3))
                {
                    o["remote_addr"] = $"10.{_random.Next(256)}.{_random.Next(256)}.0/24";
                }
                if (Chance(0.3))
                {
                    o["server_port"] = _random.Next(1, 65536);
                }
                if (Chance(0.2))
                {
                    o["server_addr"] = Pick<string>(["127.0.0.1", "::1", "127.0.0.0/8"]);
                }
                return o;
            }
            case "upstreams":
                return Upstream();
            case "services":
            {
                var o = new JsonObject();
                if (Chance(0.6))
                {
                    o["upstream"] = Upstream();
                }
                else if (Chance(0.8))
                {
                    o["upstream_id"] = Pick(PoolIds);
                }
                AddCommon(o);
                return o;
            }
            case "ssls":
            {
                var o = new JsonObject { ["cert"] = _certPem, ["key"] = _keyPem };
                if (Chance(0.5))
                {
                    o["snis"] = new JsonArray("fuzz.test", "*.fuzz.test");
                }
                else
                {
                    o["sni"] = "fuzz.test";
                }
                if (Chance(0.2))
                {
                    o["labels"] = new JsonObject { ["k"] = "v" };
                }
                return o;
            }
            case "plugin_metadata":
                return new JsonObject { ["log_format"] = new JsonObject { ["client"] = "$remote_addr" } };
            default:
                return new JsonObject { ["upstream"] = Upstream() };
        }
    }

    private void AddCommon(JsonObject o)
    {
        if (Chance(0.3))
        {
            o["name"] = "n" + _random.Next(1000).ToString(CultureInfo.InvariantCulture);
        }
        if (Chance(0.3))
        {
            o["desc"] = Pick<string>(["", "d", "ü ✓", "quote \" and backslash \\", new string('d', 256)]);
        }
        if (Chance(0.3))
        {
            o["labels"] = new JsonObject { ["k"] = "v" + _random.Next(10).ToString(CultureInfo.InvariantCulture) };
        }
    }

    private JsonObject Upstream()
    {
        var weight = _random.Next(0, 5);
        var o = new JsonObject
        {
            ["nodes"] = Chance(0.6)
                ? new JsonObject { [$"127.0.0.1:{_backendPort}"] = weight }
                : new JsonArray(new JsonObject { ["host"] = "127.0.0.1", ["port"] = _backendPort, ["weight"] = weight }),
        };
        if (Chance(0.3))
        {
            o["type"] = "roundrobin";
        }
        if (Chance(0.3))
        {
            o["timeout"] = new JsonObject { ["connect"] = 1, ["send"] = 2.5, ["read"] = 3 };
        }
        if (Chance(0.2))
        {
            o["retries"] = _random.Next(0, 3);
        }
        if (Chance(0.2))
        {
            o["name"] = "up";
        }
        return o;
    }

    /// <summary>A valid object with one value (anywhere in it) replaced, one property removed, or an unknown one added.</summary>
    private string Mutated(string kind)
    {
        var obj = ValidObject(kind);
        var slots = new List<(JsonNode Parent, string? Name, int Index)>();
        Collect(obj, slots);
        const string Placeholder = "\"__PLACEHOLDER__\"";
        var roll = _random.NextDouble();
        if (roll < 0.1 && obj.Count > 0)
        {
            obj.Remove(obj.ElementAt(_random.Next(obj.Count)).Key);
            return obj.ToJsonString();
        }
        if (roll < 0.2)
        {
            obj[Pick<string>(["foo", "id", "create_time", "update_time", "plugins", "upstream", "nodes", "sni", "tls_passthrough", "checks"])] = "__PLACEHOLDER__";
        }
        else if (slots.Count == 0)
        {
            obj["foo"] = "__PLACEHOLDER__";
        }
        else
        {
            var (parent, name, index) = Pick(slots);
            if (parent is JsonObject o)
            {
                o[name!] = "__PLACEHOLDER__";
            }
            else
            {
                ((JsonArray)parent)[index] = "__PLACEHOLDER__";
            }
        }
        return obj.ToJsonString().Replace(Placeholder, Pick(WrongValues), StringComparison.Ordinal);
    }

    private static void Collect(JsonNode node, List<(JsonNode Parent, string? Name, int Index)> slots)
    {
        if (node is JsonObject o)
        {
            foreach (var (name, child) in o.ToList())
            {
                slots.Add((o, name, -1));
                if (child is not null)
                {
                    Collect(child, slots);
                }
            }
        }
        else if (node is JsonArray a)
        {
            for (var i = 0; i < a.Count; i++)
            {
                slots.Add((a, null, i));
                if (a[i] is { } child)
                {
                    Collect(child, slots);
                }
            }
        }
    }

    private string MalformedText(string kind)
    {
        var roll = _random.NextDouble();
        if (roll < 0.5)
        {
            return Pick(Malformed);
        }
        var valid = Valid(kind, withId: false);
        if (roll < 0.7)
        {
            return valid[.._random.Next(valid.Length)];
        }
        if (roll < 0.9)
        {
            // One character replaced by a random printable one.
            var chars = valid.ToCharArray();
            chars[_random.Next(chars.Length)] = (char)_random.Next(32, 127);
            return new string(chars);
        }
        var bytes = new byte[_random.Next(1, 200)];
        _random.NextBytes(bytes);
        return Encoding.UTF8.GetString(bytes);
    }

    private string DeepText(string kind)
    {
        var depth = Pick<int>([33, 64, 1000, 20_000]);
        var inner = Chance(0.5) ? Nest(depth, "1") : string.Concat(Enumerable.Repeat("{\"a\":", depth)) + "1" + new string('}', depth);
        var obj = ValidObject(kind);
        obj[Pick<string>(["plugins", "labels", "upstream", "desc", "foo"])] = "__DEEP__";
        return obj.ToJsonString().Replace("\"__DEEP__\"", inner, StringComparison.Ordinal);
    }

    private byte[] HugeBody(string kind)
    {
        var size = _maxBody + 1 + _random.Next(0, (int)_maxBody * 2);
        var valid = Valid(kind, withId: false);
        var bytes = new byte[size];
        if (Chance(0.5))
        {
            // Valid JSON padded with whitespace: only its size is wrong.
            Array.Fill(bytes, (byte)' ');
            Encoding.UTF8.GetBytes(valid).CopyTo(bytes, 0);
        }
        else
        {
            // One enormous string value.
            var prefix = Encoding.UTF8.GetBytes("{\"desc\":\"");
            prefix.CopyTo(bytes, 0);
            Array.Fill(bytes, (byte)'a', prefix.Length, bytes.Length - prefix.Length - 2);
            bytes[^2] = (byte)'"';
            bytes[^1] = (byte)'}';
        }
        return bytes;
    }
}
