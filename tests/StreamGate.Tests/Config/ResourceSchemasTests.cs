using System.Text.Json.Nodes;
using StreamGate.Config;

namespace StreamGate.Tests.Config;

/// <summary>
/// The served schemas and the validator describe the same objects: a property is in the schema exactly when the
/// parser takes it (for every property name APISIX's schema_def.lua has, ours, and a bogus one), at the top and
/// inside nested objects; the limits come from the parser's constants.
/// </summary>
public class ResourceSchemasTests
{
    private static readonly string[] Common = ["id", "name", "desc", "labels", "create_time", "update_time", "no_such_field"];

    public static TheoryData<string, string> TopLevel()
    {
        var data = new TheoryData<string, string>();
        string[] route = [.. Common, "remote_addr", "server_addr", "server_port", "sni", "snis", "tls_passthrough", "upstream", "upstream_id", "service_id", "plugins", "protocol", "uri", "hosts"];
        string[] upstream = [.. Common, "nodes", "retries", "retry_timeout", "timeout", "tls", "keepalive_pool", "type", "checks", "hash_on", "key", "scheme", "discovery_type", "discovery_args", "pass_host", "upstream_host", "service_name"];
        string[] service = [.. Common, "plugins", "upstream", "upstream_id", "script", "enable_websocket", "hosts", "type"];
        string[] ssl = [.. Common, "type", "cert", "key", "sni", "snis", "certs", "keys", "client", "status", "ssl_protocols", "validity_start", "validity_end"];
        foreach (var (schema, names) in new[] { ("stream_route", route), ("upstream", upstream), ("service", service), ("ssl", ssl) })
        {
            foreach (var name in names)
            {
                data.Add(schema, name);
            }
        }
        return data;
    }

    private static bool ParserTakes(string schema, JsonObject body, string name, string path)
    {
        var errors = new List<ConfigError>();
        _ = schema switch
        {
            "stream_route" => ResourceParser.ParseStreamRoute(body, "", errors) is not null,
            "upstream" => ResourceParser.ParseUpstream(body, "", errors) is not null,
            "service" => ResourceParser.ParseService(body, "", errors) is not null,
            _ => SslParser.Parse(body, "", errors) is not null,
        };
        var refusal = $"additional properties forbidden, found {name}";
        // Inside nodes, the refusal is the hint of nodes' one anyOf answer ("nodes[0].zone: additional ...").
        return !errors.Exists(e => (e.Path == path && e.Message == refusal) || e.Hint?.EndsWith($"{path}: {refusal}", StringComparison.Ordinal) == true);
    }

    [Theory]
    [MemberData(nameof(TopLevel))]
    public void A_top_level_property_is_in_the_schema_exactly_when_the_parser_takes_it(string schema, string name)
    {
        var body = new JsonObject { [name] = null };
        var served = ResourceSchemas.Get(schema)!["properties"]!.AsObject();
        Assert.True(served.ContainsKey(name) == ParserTakes(schema, body, name, name),
            $"{schema}.{name}: schema {(served.ContainsKey(name) ? "lists" : "omits")} it, parser {(ParserTakes(schema, body, name, name) ? "takes" : "refuses")} it");
    }

    [Theory]
    [InlineData("host")]
    [InlineData("port")]
    [InlineData("weight")]
    [InlineData("priority")]
    [InlineData("metadata")]
    [InlineData("zone")]
    public void Node_item_properties_agree(string name)
    {
        var item = new JsonObject { ["host"] = "a", ["port"] = 1, ["weight"] = 1, [name] = null };
        var body = new JsonObject { ["nodes"] = new JsonArray(item) };
        var served = UpstreamDefinition.Schema["properties"]!["nodes"]!["anyOf"]![1]!["items"]!["properties"]!.AsObject();
        Assert.Equal(served.ContainsKey(name), ParserTakes("upstream", body, name, $"nodes[0].{name}"));
    }

    [Theory]
    [InlineData("connect")]
    [InlineData("send")]
    [InlineData("read")]
    [InlineData("idle")]
    public void Timeout_properties_agree(string name)
    {
        var body = new JsonObject { ["nodes"] = new JsonObject(), ["timeout"] = new JsonObject { [name] = null } };
        var served = UpstreamDefinition.Schema["properties"]!["timeout"]!["properties"]!.AsObject();
        Assert.Equal(served.ContainsKey(name), ParserTakes("upstream", body, name, $"timeout.{name}"));
    }

    [Fact]
    public void Limits_come_from_the_validator()
    {
        var upstream = UpstreamDefinition.Schema["properties"]!.AsObject();
        Assert.Equal(ResourceParser.MaxTimeoutSeconds, upstream["timeout"]!["properties"]!["connect"]!["maximum"]!.GetValue<double>());
        Assert.Equal(ResourceParser.MaxNameLength, upstream["name"]!["maxLength"]!.GetValue<int>());
        Assert.Equal("^[a-zA-Z0-9-_.]+$", upstream["id"]!["anyOf"]![0]!["pattern"]!.GetValue<string>());
        Assert.Equal(ResourceParser.MaxHostLength, upstream["nodes"]!["anyOf"]![1]!["items"]!["properties"]!["host"]!["maxLength"]!.GetValue<int>());
        Assert.Equal(["roundrobin", "chash", "least_conn", "ewma"], upstream["type"]!["enum"]!.AsArray().Select(n => n!.GetValue<string>()));
        Assert.Equal(["tcp"], upstream["scheme"]!["enum"]!.AsArray().Select(n => n!.GetValue<string>()));
        var ssl = SslDefinition.Schema;
        Assert.Equal(1, ssl["properties"]!["snis"]!["minItems"]!.GetValue<int>());
        Assert.NotNull(ssl["then"]);
    }

    [Fact]
    public void Every_served_schema_is_a_JSON_object_with_properties()
    {
        foreach (var name in ResourceSchemas.Names)
        {
            var schema = ResourceSchemas.Get(name);
            Assert.NotNull(schema);
            Assert.Equal("object", schema["type"]!.GetValue<string>());
            Assert.False(schema["additionalProperties"]!.GetValue<bool>());
            Assert.NotNull(JsonNode.Parse(schema.ToJsonString()));
        }
        Assert.Null(ResourceSchemas.Get("route"));
    }
}

/// <summary>The served schema is the validating one: the same object, so they cannot drift apart.</summary>
public class ServedSchemaIsTheValidatedSchemaTests
{
    [Fact]
    public void Each_served_schema_is_the_definition_validation_runs_against()
    {
        Assert.Same(StreamRouteDefinition.Schema, ResourceSchemas.Get("stream_route"));
        Assert.Same(UpstreamDefinition.Schema, ResourceSchemas.Get("upstream"));
        Assert.Same(ServiceDefinition.Schema, ResourceSchemas.Get("service"));
        Assert.Same(SslDefinition.Schema, ResourceSchemas.Get("ssl"));
    }

    [Fact]
    public void An_inline_upstream_is_the_upstream_definition()
    {
        var inline = StreamRouteDefinition.Schema["properties"]!["upstream"]!;
        Assert.True(JsonNode.DeepEquals(UpstreamDefinition.Schema, inline));
        Assert.True(JsonNode.DeepEquals(UpstreamDefinition.Schema, ServiceDefinition.Schema["properties"]!["upstream"]));
    }
}
