using System.Net;
using System.Text.Json.Nodes;
using static StreamGate.IntegrationTests.Admin.Apisix.ApisixPort;

namespace StreamGate.IntegrationTests.Admin.Apisix;

/// <summary>
/// apache/apisix t/admin/ssl.t, ssl2.t, ssl3.t, ssl5.t and ssls.t on the real gateway, with certificates made
/// for the test where APISIX reads t/certs. The blocks not ported are listed in docs/admin-api.md.
/// </summary>
public sealed class SslTests(AdminGatewayFixture fixture) : IClassFixture<AdminGatewayFixture>
{
    private AdminGateway Gateway => fixture.Gateway;

    private static readonly (string Cert, string Key) Pair = AdminSslTests.SelfSigned("test.com");

    private static string Ssl(Action<JsonObject>? more = null, string? sni = "test.com")
    {
        var body = new JsonObject { ["cert"] = Pair.Cert, ["key"] = Pair.Key };
        if (sni is not null)
        {
            body["sni"] = sni;
        }
        more?.Invoke(body);
        return body.ToJsonString();
    }

    /// <summary>ssl.t TEST 1 to 4 and ssls.t TEST 1: set (times set), get (no key), delete; a missing one is 404.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl_t_TEST_1_to_4_set_get_delete()
    {
        var put = await Gateway.PassesAsync(Put, "ssls/s1", Ssl(), """{"value": {"sni": "test.com"}, "key": "/apisix/ssls/s1"}""");
        Assert.True(put.Time("create_time") > 0 && put.Time("update_time") > 0, put.Text);
        var get = await Gateway.PassesAsync(Get, "ssls/s1", null, """{"value": {"sni": "test.com"}, "key": "/apisix/ssls/s1"}""");
        Assert.False(get.Body!["value"]!.AsObject().ContainsKey("key"), get.Text);
        await Gateway.PassesAsync(Delete, "ssls/s1");
        await Gateway.FailsAsync(Delete, "ssls/99999999999999", null, HttpStatusCode.NotFound);
    }

    /// <summary>ssl.t TEST 5: POST, then delete what it made.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl_t_TEST_5_post_and_delete()
    {
        var post = await Gateway.PassesAsync(Post, "ssls", Ssl(sni: "foo.com"), """{"value": {"sni": "foo.com"}}""");
        await Gateway.PassesAsync(Delete, "ssls/" + post.Body!["value"]!["id"]!.GetValue<string>());
    }

    /// <summary>ssl.t TEST 7 (wildcard sni), TEST 8 (snis), TEST 9 to 11 (string id, delete, invalid id).</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl_t_TEST_7_to_11_snis_and_ids()
    {
        await Gateway.PassesAsync(Put, "ssls/s7", Ssl(sni: "*.foo.com"), """{"value": {"sni": "*.foo.com"}, "key": "/apisix/ssls/s7"}""");
        await Gateway.PassesAsync(Put, "ssls/s7", Ssl(b => b["snis"] = new JsonArray("*.foo.com", "bar.com"), sni: null),
            """{"value": {"snis": ["*.foo.com", "bar.com"]}, "key": "/apisix/ssls/s7"}""");
        await Gateway.PassesAsync(Put, "ssls/a-b-c-ABC_0123", Ssl());
        await Gateway.PassesAsync(Delete, "ssls/a-b-c-ABC_0123");
        await Gateway.FailsAsync(Put, "ssls/*invalid", Ssl(), HttpStatusCode.BadRequest);
    }

    /// <summary>ssl.t TEST 6 (no cert or key) and TEST 19 (no sni, type server): the schema's if/then.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl_t_TEST_6_19_then_clause_did_not_match()
    {
        await Gateway.FailsAsync(Put, "ssls/s6", """{"sni": "foo.com"}""", HttpStatusCode.BadRequest, "invalid configuration: then clause did not match");
        await Gateway.FailsAsync(Put, "ssls/s6", Ssl(sni: null), HttpStatusCode.BadRequest, "invalid configuration: then clause did not match");
    }

    /// <summary>ssl.t TEST 14, 15: labels, and a label value of the wrong type.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl_t_TEST_14_15_labels()
    {
        await Gateway.PassesAsync(Put, "ssls/s14", Ssl(b => b["labels"] = new JsonObject { ["version"] = "v2", ["build"] = "16", ["env"] = "production" }),
            """{"value": {"sni": "test.com", "labels": {"version": "v2", "build": "16", "env": "production"}}, "key": "/apisix/ssls/s14"}""");
        await Gateway.FailsAsync(Put, "ssls/s14", Ssl(b => b["labels"] = new JsonObject { ["env"] = new JsonArray("production", "release") }), HttpStatusCode.BadRequest,
            "invalid configuration: property \"labels\" validation failed: failed to validate env (matching \".*\"): wrong type: expected string, got table");
    }

    /// <summary>ssl.t TEST 18: POST, then PATCH the sni of what it made.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl_t_TEST_18_create_then_patch()
    {
        var post = await Gateway.PassesAsync(Post, "ssls", Ssl(), """{"value": {"sni": "test.com"}}""");
        var id = post.Body!["value"]!["id"]!.GetValue<string>();
        await Gateway.PassesAsync(Patch, $"ssls/{id}", """{"sni": "t2.com"}""", """{"value": {"sni": "t2.com"}}""");
        await Gateway.PassesAsync(Delete, $"ssls/{id}");
    }

    /// <summary>
    /// ssl2.t TEST 1 to 5: no unwanted data. A PUT, POST or PATCH answers the stored (encrypted) key, as APISIX's
    /// do; a GET has none.
    /// </summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl2_t_TEST_1_to_5_no_unwanted_data()
    {
        var cert = JsonValue.Create(Pair.Cert)!.ToJsonString();
        var post = await Gateway.PassesAsync(Post, "ssls", Ssl(sni: "not-unwanted-post.com"));
        AssertExactly($$$"""{"value":{"cert":{{{cert}}},"sni":"not-unwanted-post.com"}}""", post, "key", "value.key", "value.create_time", "value.update_time", "value.id");
        Assert.False(string.IsNullOrEmpty(post.Body!["value"]!["key"]?.GetValue<string>()), post.Text);
        await Gateway.PassesAsync(Delete, "ssls/" + post.Body!["value"]!["id"]!.GetValue<string>());

        var put = await Gateway.PassesAsync(Put, "ssls/1", Ssl());
        AssertExactly($$$"""{"key":"/apisix/ssls/1","value":{"cert":{{{cert}}},"id":"1","sni":"test.com"}}""", put, "value.key", "value.create_time", "value.update_time");
        var patch = await Gateway.PassesAsync(Patch, "ssls/1", Ssl(sni: "t.com"));
        AssertExactly($$$"""{"key":"/apisix/ssls/1","value":{"cert":{{{cert}}},"id":"1","sni":"t.com"}}""", patch, "value.key", "value.create_time", "value.update_time");
        foreach (var written in (AdminResponse[])[put, patch])
        {
            var answered = written.Body!["value"]!["key"]!.GetValue<string>();
            Assert.DoesNotContain("PRIVATE KEY", answered, StringComparison.Ordinal);
            Assert.NotEqual(Pair.Key, answered);
        }
        AssertExactly($$$"""{"key":"/apisix/ssls/1","value":{"cert":{{{cert}}},"id":"1","sni":"t.com"}}""", await Gateway.PassesAsync(Get, "ssls/1"), "createdIndex", "modifiedIndex", "value.create_time", "value.update_time");
        AssertExactly("""{"deleted":"1","key":"/apisix/ssls/1"}""", await Gateway.PassesAsync(Delete, "ssls/1"));
    }

    /// <summary>A PEM block cut short, as ssl2.t's bad cert and bad key are (a few base64 lines of the real one).</summary>
    private static string Truncated(string pem)
    {
        var lines = pem.Trim().Split('\n');
        return string.Join('\n', [lines[0], lines[1], lines[2], lines[^1]]) + "\n";
    }

    /// <summary>ssl2.t TEST 6 (bad cert), TEST 7 (bad key), TEST 8, 9 (bad certs, bad keys).</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl2_t_TEST_6_to_9_bad_certs_and_keys()
    {
        await Gateway.FailsAsync(Put, "ssls/bad", new JsonObject { ["cert"] = Truncated(Pair.Cert), ["key"] = Pair.Key, ["sni"] = "test.com" }.ToJsonString(), HttpStatusCode.BadRequest,
            "failed to parse cert: PEM_read_bio_X509_AUX() failed");
        await Gateway.FailsAsync(Put, "ssls/bad", new JsonObject { ["cert"] = Pair.Cert, ["key"] = Truncated(Pair.Key), ["sni"] = "test.com" }.ToJsonString(), HttpStatusCode.BadRequest,
            "failed to parse key: PEM_read_bio_PrivateKey() failed");
        await Gateway.FailsAsync(Put, "ssls/bad", Ssl(b => { b["certs"] = new JsonArray(Truncated(Pair.Cert)); b["keys"] = new JsonArray(Pair.Key); }, sni: "t.com"), HttpStatusCode.BadRequest,
            "failed to handle cert-key pair[1]: failed to parse cert: PEM_read_bio_X509_AUX() failed");
        await Gateway.FailsAsync(Put, "ssls/bad", Ssl(b => { b["certs"] = new JsonArray(Pair.Cert); b["keys"] = new JsonArray(Truncated(Pair.Key)); }, sni: "t.com"), HttpStatusCode.BadRequest,
            "failed to handle cert-key pair[1]: failed to parse key: PEM_read_bio_PrivateKey() failed");
        await Gateway.FailsAsync(Get, "ssls/bad", null, HttpStatusCode.NotFound);
    }

    /// <summary>ssl2.t TEST 10: empty snis.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl2_t_TEST_10_empty_snis() =>
        await Gateway.FailsAsync(Put, "ssls/s10", Ssl(b => b["snis"] = new JsonArray(), sni: null), HttpStatusCode.BadRequest,
            "invalid configuration: property \"snis\" validation failed: expect array to have at least 1 items");

    /// <summary>ssl2.t TEST 11: snis replaced through the sub-path.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl2_t_TEST_11_patch_snis_with_a_sub_path()
    {
        await Gateway.PassesAsync(Put, "ssls/s11", Ssl(b => b["snis"] = new JsonArray("test.com"), sni: null));
        var patched = await Gateway.PassesAsync(Patch, "ssls/s11/snis", """["update1.com", "update2.com"]""");
        Assert.Contains("\"snis\":[\"update1.com\",\"update2.com\"]", patched.Text, StringComparison.Ordinal);
    }

    /// <summary>ssl2.t TEST 12, 13: a key sent in a PATCH (whole or by sub-path) is stored encrypted, never as sent.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl2_t_TEST_12_13_a_patched_key_is_encrypted()
    {
        await Gateway.PassesAsync(Put, "ssls/s12", Ssl());
        var whole = await Gateway.PassesAsync(Patch, "ssls/s12", new JsonObject { ["cert"] = Pair.Cert, ["key"] = Pair.Key, ["certs"] = new JsonArray(Pair.Cert), ["keys"] = new JsonArray(Pair.Key) }.ToJsonString());
        Assert.DoesNotContain("PRIVATE KEY", whole.Text, StringComparison.Ordinal);
        var sub = await Gateway.PassesAsync(Patch, "ssls/s12/keys", new JsonArray(Pair.Key).ToJsonString());
        Assert.DoesNotContain("PRIVATE KEY", sub.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("PRIVATE KEY", Gateway.StoreBytes(), StringComparison.Ordinal);
    }

    /// <summary>ssl3.t TEST 1: the list of a new store is empty.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl3_t_TEST_1_list_empty_resources()
    {
        await using var fresh = await AdminGateway.StartAsync();
        AssertExactly("""{"list":[],"total":0}""", await fresh.PassesAsync(Get, "ssls"));
    }

    /// <summary>ssl5.t TEST 1 (TLSv1.0 is not a protocol APISIX takes) and TEST 2 (no ssl_protocols by default).</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl5_t_TEST_1_2_ssl_protocols()
    {
        await Gateway.FailsAsync(Put, "ssls/s5", Ssl(b => b["ssl_protocols"] = new JsonArray("TLSv1.0", "TLSv1.2")), HttpStatusCode.BadRequest,
            "invalid configuration: property \"ssl_protocols\" validation failed: failed to validate item 1: matches none of the enum values");
        var put = await Gateway.PassesAsync(Put, "ssls/s5", Ssl(), """{"value": {"sni": "test.com"}, "key": "/apisix/ssls/s5"}""");
        Assert.False(put.Body!["value"]!.AsObject().ContainsKey("ssl_protocols"), put.Text);
    }

    /// <summary>ssl.t TEST 23: an item of certs that is neither a PEM nor a secret reference.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl_t_TEST_23_invalid_prefix() =>
        await Gateway.FailsAsync(Put, "ssls/s23", """{"sni": "test.com", "cert": "$ENV://APISIX_TEST_SSL_CERT", "key": "$env://APISIX_TEST_SSL_KEY", "certs": ["https://APISIX_TEST_SSL_CERTS"], "keys": ["$ENV://APISIX_TEST_SSL_KEYS"]}""",
            HttpStatusCode.BadRequest, "invalid configuration: property \"certs\" validation failed: failed to validate item 1: string too short, expected at least 128, got 29");

    /// <summary>ssl.t TEST 21, 22: secret and environment references are stored as they are.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl_t_TEST_21_22_references()
    {
        await Gateway.PassesAsync(Put, "ssls/s21", """{"sni": "test.com", "cert": "$secret://vault/test/ssl/test.com.crt", "key": "$secret://vault/test/ssl/test.com.key", "certs": ["$secret://vault/test/ssl/test.com.2.crt"], "keys": ["$secret://vault/test/ssl/test.com.2.key"]}""",
            """{"value": {"sni": "test.com", "cert": "$secret://vault/test/ssl/test.com.crt", "certs": ["$secret://vault/test/ssl/test.com.2.crt"]}, "key": "/apisix/ssls/s21"}""");
        await Gateway.PassesAsync(Put, "ssls/s22", """{"sni": "test.com", "cert": "$ENV://APISIX_TEST_SSL_CERT", "key": "$env://APISIX_TEST_SSL_KEY", "certs": ["$env://APISIX_TEST_SSL_CERTS"], "keys": ["$ENV://APISIX_TEST_SSL_KEYS"]}""",
            """{"value": {"sni": "test.com", "cert": "$ENV://APISIX_TEST_SSL_CERT", "certs": ["$env://APISIX_TEST_SSL_CERTS"]}, "key": "/apisix/ssls/s22"}""");
    }

    /// <summary>ssl.t TEST 24, 25: neither a GET nor a list returns key or keys.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl_t_TEST_24_25_keys_are_never_returned()
    {
        await Gateway.PassesAsync(Put, "ssls/s24", Ssl(b => { b["certs"] = new JsonArray(Pair.Cert); b["keys"] = new JsonArray(Pair.Key); }));
        var get = await Gateway.PassesAsync(Get, "ssls/s24");
        Assert.False(get.Body!["value"]!.AsObject().ContainsKey("key") || get.Body["value"]!.AsObject().ContainsKey("keys"), get.Text);
        var list = await Gateway.PassesAsync(Get, "ssls");
        Assert.NotEmpty(list.Body!["list"]!.AsArray());
        Assert.All(list.Body["list"]!.AsArray(), i => Assert.False(i!["value"]!.AsObject().ContainsKey("key") || i["value"]!.AsObject().ContainsKey("keys"), i.ToJsonString()));
    }

    /// <summary>ssl.t TEST 12 (a second cert and key in certs/keys), TEST 13 (certs without their keys), TEST 20 (type client needs no sni).</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl_t_TEST_12_13_20_multiple_certs_and_client_type()
    {
        var second = AdminSslTests.SelfSigned("test.com");
        await Gateway.PassesAsync(Put, "ssls/s12m", Ssl(b => { b["certs"] = new JsonArray(second.Cert); b["keys"] = new JsonArray(second.Key); }),
            """{"value": {"sni": "test.com"}, "key": "/apisix/ssls/s12m"}""");
        await Gateway.FailsAsync(Put, "ssls/s13m", new JsonObject { ["sni"] = "test.com", ["certs"] = new JsonArray(second.Cert), ["keys"] = new JsonArray() }.ToJsonString(),
            HttpStatusCode.BadRequest, "invalid configuration: then clause did not match");
        await Gateway.PassesAsync(Put, "ssls/s20", Ssl(b => b["type"] = "client", sni: null));
    }
}
