using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json.Nodes;

namespace StreamGate.IntegrationTests.Admin;

/// <summary>
/// The validator's answers through the real admin API (issue 7): what the snapshot builder cannot build is a 400
/// and is never stored, and APISIX's messages arrive as its t/admin/*.t blocks expect them (each cited).
/// </summary>
public sealed class AdminValidationTests(AdminGatewayFixture fixture) : IClassFixture<AdminGatewayFixture>
{
    private const int TestTimeoutMs = 60_000;

    private AdminGateway Gateway => fixture.Gateway;

    private static readonly (string Cert, string Key) Pair = SelfSigned("validation.test");

    private static (string Cert, string Key) SelfSigned(string name)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={name}", key, HashAlgorithmName.SHA256);
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        return (certificate.ExportCertificatePem(), key.ExportPkcs8PrivateKeyPem());
    }

    private async Task AssertRefusedAndAbsent(string path, string body, string message)
    {
        var response = await Gateway.PutAsync(path, body);
        Assert.True(response.Status == HttpStatusCode.BadRequest, $"PUT {path}: {response}");
        Assert.Equal(message, response.ErrorMessage);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync(path)).Status);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_node_host_of_300_characters_is_refused_and_later_writes_still_apply()
    {
        // The fault probe's write: accepted with 201 before, after which no write reached the data plane.
        var host = new string('a', 300);
        var response = await Gateway.PutAsync("upstreams/long-host", $$$"""{"nodes": {"{{{host}}}:80": 1}}""");
        Assert.True(response.Status == HttpStatusCode.BadRequest, response.ToString());
        Assert.StartsWith("invalid configuration: ", response.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("a host name is at most 255 characters, got 300", response.ErrorMessage, StringComparison.Ordinal);
        var array = await Gateway.PutAsync("upstreams/long-host", $$"""{"nodes": [{"host": "{{host}}", "port": 80, "weight": 1}]}""");
        // APISIX's one anyOf answer for nodes; which node and why in the hint.
        Assert.Equal("invalid configuration: property \"nodes\" validation failed: object matches none of the required", array.ErrorMessage);
        Assert.Equal("nodes[0].host: string too long, expected at most 255, got 300", array.Hint);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("upstreams/long-host")).Status);
        Assert.Equal(HttpStatusCode.Created, (await Gateway.PutAsync("upstreams/after-long-host", """{"nodes": {"127.0.0.1:1": 1}}""")).Status);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_connect_timeout_that_overflows_a_millisecond_deadline_is_refused()
    {
        await AssertRefusedAndAbsent(
            "upstreams/huge-timeout",
            """{"nodes": {"127.0.0.1:1": 1}, "timeout": {"connect": 1e16, "send": 1, "read": 1}}""",
            "invalid configuration: property \"timeout\" validation failed: property \"connect\" validation failed: expected 1e+16 to be at most 2147483.647");
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task An_id_with_a_trailing_newline_in_the_body_is_refused()
    {
        var response = await Gateway.PutAsync("upstreams", """{"id": "nl\n", "nodes": {"127.0.0.1:1": 1}}""");
        Assert.True(response.Status == HttpStatusCode.BadRequest, response.ToString());
        Assert.Equal("invalid configuration: property \"id\" validation failed: object matches none of the required", response.ErrorMessage);
    }

    // services.t TEST 11: integer id less than 1.
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services_t_TEST_11_integer_id_less_than_1()
    {
        var response = await Gateway.PutAsync("services", """{"id": -100, "plugins": {}}""");
        Assert.True(response.Status == HttpStatusCode.BadRequest, response.ToString());
        Assert.Equal("invalid configuration: property \"id\" validation failed: object matches none of the required", response.ErrorMessage);
    }

    // services.t TEST 13: invalid upstream_id.
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services_t_TEST_13_invalid_upstream_id()
    {
        await AssertRefusedAndAbsent("services/13", """{"upstream_id": "invalid$"}""",
            "invalid configuration: property \"upstream_id\" validation failed: object matches none of the required");
    }

    // services.t TEST 33: invalid format of label value.
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services_t_TEST_33_label_value_of_the_wrong_type()
    {
        await AssertRefusedAndAbsent("services/33", """{"labels": {"env": ["production", "release"]}}""",
            "invalid configuration: property \"labels\" validation failed: failed to validate env (matching \".*\"): wrong type: expected string, got table");
    }

    // services.t TEST 36: limit the length of service's name.
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Services_t_TEST_36_name_of_257_characters()
    {
        await AssertRefusedAndAbsent("services/36", $$"""{"name": "{{new string('n', 257)}}"}""",
            "invalid configuration: property \"name\" validation failed: string too long, expected at most 256, got 257");
        Assert.Equal(HttpStatusCode.Created, (await Gateway.PutAsync("services/36-ok", $$"""{"name": "{{new string('n', 256)}}"}""")).Status);
    }

    // ssl2.t TEST 10: empty snis.
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl2_t_TEST_10_empty_snis()
    {
        var body = new JsonObject { ["cert"] = Pair.Cert, ["key"] = Pair.Key, ["snis"] = new JsonArray() };
        await AssertRefusedAndAbsent("ssls/empty-snis", body.ToJsonString(),
            "invalid configuration: property \"snis\" validation failed: expect array to have at least 1 items");
    }

    // ssl.t TEST 19: missing sni information.
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl_t_TEST_19_missing_sni()
    {
        var body = new JsonObject { ["cert"] = Pair.Cert, ["key"] = Pair.Key };
        await AssertRefusedAndAbsent("ssls/no-sni", body.ToJsonString(), "invalid configuration: then clause did not match");
    }

    // ssl.t TEST 22: environment references are stored as they are.
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl_t_TEST_22_environment_references_are_accepted()
    {
        var response = await Gateway.PutAsync("ssls/env-refs", """
            {"sni": "test.com", "cert": "$ENV://APISIX_TEST_SSL_CERT", "key": "$env://APISIX_TEST_SSL_KEY",
             "certs": ["$env://APISIX_TEST_SSL_CERTS"], "keys": ["$ENV://APISIX_TEST_SSL_KEYS"]}
            """);
        Assert.True(response.Status == HttpStatusCode.Created, response.ToString());
        Assert.Equal("$ENV://APISIX_TEST_SSL_CERT", response.Body!["value"]!["cert"]!.GetValue<string>());
    }

    // ssl2.t TEST 6: bad cert. APISIX answers the message bare, without "invalid configuration: ".
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Ssl2_t_TEST_6_bad_cert()
    {
        var badCert = "-----BEGIN CERTIFICATE-----\n" + string.Concat(Enumerable.Repeat("MIIEojCCAwqgAwIBAgIJAK253pMhgCkxMA0GCSqGSIb3DQEBCwUAMFYxCzAJBgNV\n", 3)) + "-----END CERTIFICATE-----\n";
        var body = new JsonObject { ["cert"] = badCert, ["key"] = Pair.Key, ["sni"] = "test.com" };
        var response = await Gateway.PutAsync("ssls/bad-cert", body.ToJsonString());
        Assert.True(response.Status == HttpStatusCode.BadRequest, response.ToString());
        Assert.Equal("failed to parse cert: PEM_read_bio_X509_AUX() failed", response.ErrorMessage);
    }

    // stream-routes.t TEST 16: validate protocol.
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Stream_routes_t_TEST_16_unknown_protocol()
    {
        var response = await Gateway.PutAsync("stream_routes/protocol", """{"protocol": {"name": "xxx"}, "upstream": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}}""");
        Assert.True(response.Status == HttpStatusCode.BadRequest, response.ToString());
        Assert.Equal("unknown protocol [xxx]", response.ErrorMessage);
    }

    // upstream.lua check_schema: a bare IPv6 host in an upstream's array form.
    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_bare_IPv6_host_in_an_upstream_is_refused()
    {
        var response = await Gateway.PutAsync("upstreams/bare-v6", """{"nodes": [{"host": "::1", "port": 80, "weight": 1}]}""");
        Assert.True(response.Status == HttpStatusCode.BadRequest, response.ToString());
        Assert.Equal("invalid configuration: IPv6 address must be enclosed with '[' and ']'", response.ErrorMessage);
        Assert.Equal(HttpStatusCode.Created, (await Gateway.PutAsync("upstreams/bracketed-v6", """{"nodes": [{"host": "[::1]", "port": 80, "weight": 1}]}""")).Status);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task The_hint_is_a_field_of_its_own_and_never_inside_error_msg()
    {
        var response = await Gateway.PutAsync("stream_routes/hinted", """{"protocol": {"name": "xxx"}, "upstream": {"nodes": {"127.0.0.1:8080": 1}}}""");
        Assert.True(response.Status == HttpStatusCode.BadRequest, response.ToString());
        Assert.Equal("unknown protocol [xxx]", response.ErrorMessage);
        Assert.Equal("xRPC protocols (dubbo, redis) are not available in this StreamGate version yet; remove protocol", response.Hint);

        var id = await Gateway.PutAsync("services", """{"id": -100}""");
        Assert.Equal("invalid configuration: property \"id\" validation failed: object matches none of the required", id.ErrorMessage);
        Assert.StartsWith("an id is a string of 1-64 of [a-zA-Z0-9-_.] or an integer of at least 1: ", id.Hint, StringComparison.Ordinal);

        // No hint, no field: APISIX's answer has error_msg alone.
        var plain = await Gateway.PutAsync("services/no-hint", $$"""{"name": "{{new string('n', 257)}}"}""");
        Assert.True(plain.Status == HttpStatusCode.BadRequest, plain.ToString());
        Assert.False(plain.Body!.AsObject().ContainsKey("hint"), plain.ToString());
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Only_the_first_error_is_answered_and_the_schema_comes_before_the_checks()
    {
        // Three problems: a bad remote_addr and an unknown plugin (checks after the schema, bare) and a server_port
        // out of range (the schema). APISIX checks the schema first and stops at its first failure.
        var response = await Gateway.PutAsync("stream_routes/many", """
            {"remote_addr": ":/8", "plugins": {"no-such-plugin": {}}, "server_port": 70000, "upstream": {"nodes": {"127.0.0.1:1": 1}}}
            """);
        Assert.True(response.Status == HttpStatusCode.BadRequest, response.ToString());
        Assert.Equal("invalid configuration: property \"server_port\" validation failed: expected 70000 to be at most 65535", response.ErrorMessage);

        // With the schema satisfied, the first check in the validator's order.
        var checks = await Gateway.PutAsync("stream_routes/many", """
            {"remote_addr": ":/8", "plugins": {"no-such-plugin": {}}, "upstream": {"nodes": {"127.0.0.1:1": 1}}}
            """);
        Assert.True(checks.Status == HttpStatusCode.BadRequest, checks.ToString());
        Assert.DoesNotContain("; ", checks.ErrorMessage, StringComparison.Ordinal);
        Assert.True(checks.ErrorMessage is "invalid remote_addr: :/8" or "unknown plugin [no-such-plugin]", checks.ToString());
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("stream_routes/many")).Status);
    }

    [Theory(Timeout = TestTimeoutMs)]
    [InlineData("stream_route", "protocol")]
    [InlineData("upstream", "nodes")]
    [InlineData("service", "upstream_id")]
    [InlineData("ssl", "snis")]
    public async Task Schemas_are_served_for_every_resource(string name, string field)
    {
        var response = await Gateway.GetAsync("schema/" + name);
        Assert.True(response.Status == HttpStatusCode.OK, response.ToString());
        Assert.Equal("application/json", response.ContentType);
        Assert.True(response.Body!["properties"]!.AsObject().ContainsKey(field), $"schema/{name} has no {field}");
        Assert.False(response.Body["additionalProperties"]!.GetValue<bool>());
    }
}
