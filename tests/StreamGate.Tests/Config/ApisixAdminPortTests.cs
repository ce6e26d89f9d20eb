using System.Text.Json.Nodes;
using StreamGate.Config;

namespace StreamGate.Tests.Config;

/// <summary>
/// APISIX's own admin test blocks (apache/apisix t/admin/*.t) that concern the validator, ported: each test names
/// its source block. The answers are APISIX's exact messages; our explanations go in <see cref="ConfigError.Hint"/>.
/// </summary>
public class ApisixAdminPortTests
{
    private static List<ConfigError> RouteErrors(string json)
    {
        var errors = new List<ConfigError>();
        Assert.Null(ResourceParser.ParseStreamRoute(JsonNode.Parse(json)!.AsObject(), "", errors));
        return errors;
    }

    private static List<ConfigError> UpstreamErrors(string json)
    {
        var errors = new List<ConfigError>();
        Assert.Null(ResourceParser.ParseUpstream(JsonNode.Parse(json)!.AsObject(), "", errors));
        return errors;
    }

    private static List<ConfigError> ServiceErrors(string json)
    {
        var errors = new List<ConfigError>();
        Assert.Null(ResourceParser.ParseService(JsonNode.Parse(json)!.AsObject(), "", errors));
        return errors;
    }

    // stream-routes.t TEST 1: "desc" sent twice; the second one is stored.
    [Fact]
    public void StreamRoutes_t_TEST_1_duplicate_names_keep_the_last_value()
    {
        var body = JsonObjectReader.ParseLastWins("""
            {"remote_addr": "127.0.0.1", "desc": "test-desc",
             "upstream": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}, "desc": "new route"}
            """)!.AsObject();
        Assert.Equal("new route", body["desc"]!.GetValue<string>());
        Assert.Equal(["remote_addr", "desc", "upstream"], body.Select(p => p.Key));
        var errors = new List<ConfigError>();
        var route = ResourceParser.ParseStreamRoute(body, "", errors);
        Assert.Empty(errors);
        Assert.Equal("new route", route!.Desc);
    }

    [Fact]
    public void Duplicate_names_keep_the_last_value_at_every_depth()
    {
        var body = JsonObjectReader.ParseLastWins("""{"a": {"x": 1, "x": [1, {"y": 2, "y": 3}]}, "a": {"x": 2, "z": null}}""")!;
        Assert.Equal("""{"a":{"x":2,"z":null}}""", body.ToJsonString());
        var nested = JsonObjectReader.ParseLastWins("""{"n": [{"y": 2, "y": "three"}]}""")!;
        Assert.Equal("three", nested["n"]![0]!["y"]!.GetValue<string>());
    }

    [Fact]
    public void ParseLastWins_keeps_the_depth_cap()
    {
        var deep = string.Concat(Enumerable.Repeat("[", 40)) + string.Concat(Enumerable.Repeat("]", 40));
        Assert.ThrowsAny<System.Text.Json.JsonException>(() => JsonObjectReader.ParseLastWins(deep));
    }

    // stream-routes.t TEST 16: a protocol no xRPC module serves.
    [Fact]
    public void StreamRoutes_t_TEST_16_unknown_protocol()
    {
        var error = Assert.Single(RouteErrors("""{"protocol": {"name": "xxx"}, "upstream": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin"}}"""));
        Assert.Equal("unknown protocol [xxx]", error.Message);
        Assert.Equal(ConfigErrorForm.Bare, error.Form);
        Assert.NotNull(error.Hint);
    }

    [Theory]
    [InlineData("""{"conf": {}}""", "protocol.name", "property \"name\" is required")]
    [InlineData("""{"name": 1}""", "protocol.name", "property \"name\" validation failed: wrong type: expected string, got number")]
    [InlineData("\"redis\"", "protocol", "property \"protocol\" validation failed: wrong type: expected object, got string")]
    public void Protocol_is_checked_against_its_schema_first(string protocol, string path, string message)
    {
        var error = Assert.Single(RouteErrors($$"""{"protocol": {{protocol}}, "upstream_id": 1}"""));
        Assert.Equal(path, error.Path);
        Assert.Equal(message, error.Message);
    }

    // services.t TEST 11, 12, 13: every id failure is the anyOf's one message.
    [Theory]
    [InlineData("""{"id": -100, "plugins": {}}""", "id")]
    [InlineData("""{"id": "invalid_id$", "plugins": {}}""", "id")]
    [InlineData("""{"id": 1, "upstream_id": "invalid$"}""", "upstream_id")]
    public void Services_t_TEST_11_to_13_invalid_ids(string json, string field)
    {
        var error = Assert.Single(ServiceErrors(json));
        Assert.Equal(field, error.Path);
        Assert.Equal($"property \"{field}\" validation failed: object matches none of the required", error.Message);
        Assert.Equal(ConfigErrorForm.Schema, error.Form);
    }

    // services.t TEST 33 (and ssl.t TEST 15, consumers.t, routes4.t): a label value that is not a string.
    [Fact]
    public void Services_t_TEST_33_label_value_of_the_wrong_type()
    {
        var error = Assert.Single(ServiceErrors("""{"id": 1, "labels": {"env": ["production", "release"]}}"""));
        Assert.Equal("labels", error.Path);
        Assert.Equal("property \"labels\" validation failed: failed to validate env (matching \".*\"): wrong type: expected string, got table", error.Message);
    }

    [Theory]
    [InlineData("{\"env\": {\"a\": 1}}", "failed to validate env (matching \".*\"): wrong type: expected string, got table")]
    [InlineData("{\"env\": null}", "failed to validate env (matching \".*\"): wrong type: expected string, got userdata")]
    [InlineData("{\"env\": \"\"}", "failed to validate env (matching \".*\"): string too short, expected at least 1, got 0")]
    [InlineData("{\"env\": \"a b\"}", "failed to validate env (matching \".*\"): failed to match pattern \"^\\S+$\" with \"a b\"")]
    public void Label_values_follow_label_value_def(string labels, string message)
    {
        var error = Assert.Single(ServiceErrors($$"""{"id": 1, "labels": {{labels}} }"""));
        Assert.Equal("property \"labels\" validation failed: " + message, error.Message);
    }

    [Fact]
    public void Label_values_are_at_most_256_characters()
    {
        Assert.Empty(ValidService($$$"""{"id": 1, "labels": {"k": "{{{new string('v', 256)}}}"}}"""));
        var error = Assert.Single(ServiceErrors($$$"""{"id": 1, "labels": {"k": "{{{new string('v', 257)}}}"}}"""));
        Assert.EndsWith("string too long, expected at most 256, got 257", error.Message, StringComparison.Ordinal);
    }

    // services.t TEST 36: a name of 257 characters; 256 pass (rule_name_def), for every object with a name.
    [Fact]
    public void Services_t_TEST_36_name_is_at_most_256_characters()
    {
        var error = Assert.Single(ServiceErrors($$"""{"id": 1, "name": "{{new string('a', 257)}}"}"""));
        Assert.Equal("property \"name\" validation failed: string too long, expected at most 256, got 257", error.Message);
        Assert.Empty(ValidService($$"""{"id": 1, "name": "{{new string('a', 256)}}"}"""));
        var route = ResourceParser.ParseStreamRoute(JsonNode.Parse($$"""{"name": "{{new string('a', 256)}}", "upstream_id": 1}""")!.AsObject(), "", []);
        Assert.NotNull(route);
        var upstream = ResourceParser.ParseUpstream(JsonNode.Parse($$$"""{"name": "{{{new string('a', 256)}}}", "nodes": {}}""")!.AsObject(), "", []);
        Assert.NotNull(upstream);
    }

    private static List<ConfigError> ValidService(string json)
    {
        var errors = new List<ConfigError>();
        Assert.NotNull(ResourceParser.ParseService(JsonNode.Parse(json)!.AsObject(), "", errors));
        return errors;
    }

    // upstream.lua check_schema: a bare IPv6 host in the array form of an upstream (and a service's upstream) is refused.
    [Theory]
    [InlineData("::1")]
    [InlineData("2001:db8::1")]
    public void Bare_IPv6_hosts_are_refused_in_upstreams(string host)
    {
        var error = Assert.Single(UpstreamErrors($$"""{"nodes": [{"host": "{{host}}", "port": 80, "weight": 1}]}"""));
        Assert.Equal("nodes[0].host", error.Path);
        Assert.Equal("IPv6 address must be enclosed with '[' and ']'", error.Message);
        Assert.Equal(ConfigErrorForm.Check, error.Form);
        Assert.Single(ServiceErrors($$$"""{"id": 1, "upstream": {"nodes": [{"host": "{{{host}}}", "port": 80, "weight": 1}]}}"""));
    }

    [Fact]
    public void A_stream_routes_inline_upstream_takes_a_bare_IPv6_host_as_APISIX_does()
    {
        // stream_routes.lua checks its inline upstream against the schema only; the balancer brackets the host.
        var errors = new List<ConfigError>();
        var route = ResourceParser.ParseStreamRoute(JsonNode.Parse("""{"upstream": {"nodes": [{"host": "::1", "port": 80, "weight": 1}]}}""")!.AsObject(), "", errors);
        Assert.Empty(errors);
        Assert.Equal(new NodeConfig("::1", 80, 1, 0), Assert.Single(route!.Upstream!.Nodes));
    }

    [Fact]
    public void An_upstream_of_unknown_type_is_refused_beyond_APISIX()
    {
        // APISIX's schema has no enum for type and stores "unknown", which then fails every connection; we refuse it.
        var error = Assert.Single(UpstreamErrors("""{"nodes": {"127.0.0.1:80": 1}, "type": "unknown"}"""));
        Assert.StartsWith("property \"type\" validation failed: matches none of the enum values", error.Message, StringComparison.Ordinal);
    }

    // upstream.t, ssl.t: jsonschema's enum message is "matches none of the enum values", nothing more.
    [Fact]
    public void Enum_failures_are_APISIX_message_with_the_allowed_values_as_hint()
    {
        var error = Assert.Single(UpstreamErrors("""{"nodes": {"127.0.0.1:80": 1}, "hash_on": "ip"}"""));
        Assert.Equal("property \"hash_on\" validation failed: matches none of the enum values", error.Message);
        Assert.Equal("expected one of vars, header, cookie, consumer, vars_combinations, got \"ip\"", error.Hint);
        var config = Assert.Throws<ConfigException>(() => GatewayConfigLoader.Parse("apisix:\n  proxy_mode: tcp\n", "/etc/config.yaml"));
        Assert.Contains("apisix.proxy_mode: property \"proxy_mode\" validation failed: matches none of the enum values; expected one of http, stream, http&stream, got \"tcp\"", config.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Create_time_inside_an_inline_upstream_passes_the_schema()
    {
        // upstream_schema has create_time and update_time; only the admin API forbids them in a request body.
        var errors = new List<ConfigError>();
        Assert.NotNull(ResourceParser.ParseStreamRoute(JsonNode.Parse("""{"upstream": {"nodes": {"127.0.0.1:80": 1}, "create_time": 1, "update_time": 2}}""")!.AsObject(), "", errors));
        Assert.Empty(errors);
    }

    [Fact]
    public void Error_forms_default_to_the_schema_form()
    {
        var error = Assert.Single(RouteErrors("""{"server_port": 70000, "upstream_id": 1}"""));
        Assert.Equal(ConfigErrorForm.Schema, error.Form);
        Assert.Null(error.Hint);
        var address = Assert.Single(RouteErrors("""{"remote_addr": ":/8", "upstream_id": 1}"""));
        Assert.Equal("invalid remote_addr: :/8", address.Message);
        Assert.Equal(ConfigErrorForm.Bare, address.Form);
        Assert.Equal("remote_addr: invalid remote_addr: :/8; " + address.Hint, address.ToString());
    }
}

public class ApisixAdminCheckTests
{
    // plugin_metadata.lua check_conf: a plugin the build does not have.
    [Theory]
    [InlineData(null, "missing plugin name")]
    [InlineData("", "missing plugin name")]
    [InlineData("no-such-plugin", "invalid plugin name")]
    public void Plugin_metadata_names(string? name, string message)
    {
        var error = ResourceParser.CheckPluginMetadataName(name);
        Assert.NotNull(error);
        Assert.Equal(message, error.Message);
        Assert.Equal(ConfigErrorForm.Bare, error.Form);
    }

    // services.t TEST 34, 35 (resource.lua check_forbidden_properties): times at the top, in the inline upstream, in plugins.
    [Theory]
    [InlineData("""{"create_time": 1}""", "the property is forbidden:  create_time")]
    [InlineData("""{"update_time": 1}""", "the property is forbidden:  update_time")]
    [InlineData("""{"upstream": {"nodes": {}, "create_time": 1602883670, "update_time": 1602893670}}""", "the property is forbidden:  upstream.create_time")]
    [InlineData("""{"plugins": {"update_time": 1}}""", "the property is forbidden:  plugins.update_time")]
    [InlineData("""{"upstream": {"nodes": {}}, "plugins": {}}""", null)]
    [InlineData("""{"upstream": 5}""", null)]
    // Lua's truthiness: cjson's null is set, false is not.
    [InlineData("""{"create_time": null}""", "the property is forbidden:  create_time")]
    [InlineData("""{"upstream": {"update_time": null}}""", "the property is forbidden:  upstream.update_time")]
    [InlineData("""{"create_time": false}""", null)]
    public void Forbidden_properties(string body, string? message)
    {
        Assert.Equal(message, ResourceParser.ForbiddenProperty(JsonNode.Parse(body)!.AsObject()));
    }
}
