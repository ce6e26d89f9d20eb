using System.Text.Json.Nodes;
using StreamGate.Admin;
using StreamGate.Config;

namespace StreamGate.Tests.Config;

/// <summary>
/// chash's hash_on and key: APISIX's check_upstream_conf (apisix/upstream.lua) answers in its words (the blocks of
/// t/admin/upstream.t, upstream3.t and services.t are named); what APISIX takes but a stream connection cannot hash
/// on (HTTP variables, headers, cookies, consumers) is refused in ours, with the keys that work.
/// </summary>
public class UpstreamChashTests
{
    private const string Nodes = "\"nodes\": {\"127.0.0.1:8080\": 1, \"127.0.0.1:8081\": 2}";

    private const string VarsPattern = "^((uri|server_name|server_addr|request_uri|remote_port|remote_addr|query_string|host|hostname|mqtt_client_id)|arg_[0-9a-zA-z_-]+)$";

    private static (UpstreamConfig? Upstream, List<ConfigError> Errors) Upstream(string fields)
    {
        var errors = new List<ConfigError>();
        var upstream = ResourceParser.ParseUpstream(JsonNode.Parse($$"""{ {{Nodes}}, {{fields}} }""")!.AsObject(), "", errors);
        Assert.Equal(upstream is null, errors.Count > 0);
        return (upstream, errors);
    }

    private static string? Answer(List<ConfigError> errors) => errors.Count == 0 ? null : AdminErrors.Message(AdminErrors.First(errors));

    private static string? UpstreamAnswer(string fields) => Answer(Upstream(fields).Errors);

    private static string? ServiceAnswer(string upstreamFields)
    {
        var errors = new List<ConfigError>();
        ResourceParser.ParseService(JsonNode.Parse($$"""{"upstream": { {{Nodes}}, {{upstreamFields}} }, "desc": "new service"}""")!.AsObject(), "", errors);
        return Answer(errors);
    }

    private static string? RouteAnswer(string upstreamFields)
    {
        var errors = new List<ConfigError>();
        ResourceParser.ParseStreamRoute(JsonNode.Parse($$$"""{"upstream": { {{{Nodes}}}, {{{upstreamFields}}} }}""")!.AsObject(), "", errors);
        return Answer(errors);
    }

    // upstream.t TEST 12; and every stream key, server_port beyond APISIX's pattern.
    [Theory]
    [InlineData("remote_addr")]
    [InlineData("remote_port")]
    [InlineData("server_addr")]
    [InlineData("server_port")]
    [InlineData("mqtt_client_id")]
    public void The_stream_keys_pass(string key)
    {
        var (upstream, errors) = Upstream($$"""
            "type": "chash", "key": "{{key}}"
            """);
        Assert.Empty(errors);
        Assert.Equal("chash", upstream!.Type);
        Assert.Equal(key, upstream.Key);
        Assert.Null(upstream.HashOn);
        Assert.Empty(Upstream($$"""
            "type": "chash", "hash_on": "vars", "key": "{{key}}"
            """).Errors);
    }

    [Theory]
    [InlineData("least_conn")]
    [InlineData("ewma")]
    [InlineData("roundrobin")]
    public void The_other_balancers_are_served(string type) =>
        Assert.Equal(type, Upstream($$"""
            "type": "{{type}}"
            """).Upstream!.Type);

    [Fact]
    public void Upstream_t_TEST_16_and_services_t_TEST_23_to_25_missing_key()
    {
        var (_, errors) = Upstream("\"type\": \"chash\"");
        var error = Assert.Single(errors);
        Assert.Equal("key", error.Path);
        Assert.Equal(ConfigErrorForm.Bare, error.Form);
        Assert.Equal("missing key", Answer(errors));
        Assert.Contains("remote_addr", error.Hint, StringComparison.Ordinal);
        Assert.Equal("missing key", ServiceAnswer("\"type\": \"chash\""));
        Assert.Equal("missing key", ServiceAnswer("\"type\": \"chash\", \"hash_on\": \"header\""));
        Assert.Equal("missing key", ServiceAnswer("\"type\": \"chash\", \"hash_on\": \"cookie\""));
        Assert.Equal("missing key", ServiceAnswer("\"type\": \"chash\", \"hash_on\": \"vars_combinations\""));
    }

    [Fact]
    public void A_stream_routes_inline_chash_upstream_may_leave_the_key_out_as_APISIX_allows()
    {
        // stream_routes.lua checks an inline upstream against the schema only; its connections hash on remote_addr.
        Assert.Null(RouteAnswer("\"type\": \"chash\""));
        Assert.Null(RouteAnswer("\"type\": \"chash\", \"hash_on\": \"vars_combinations\""));
        // A key that is written is checked as everywhere, and HTTP-only hash_on is refused.
        Assert.StartsWith("invalid configuration: failed to match pattern", RouteAnswer("\"type\": \"chash\", \"key\": \"not_support\""), StringComparison.Ordinal);
        Assert.StartsWith("invalid configuration: property \"upstream\" validation failed: property \"hash_on\" validation failed: hash_on \"header\" is for HTTP routes",
            RouteAnswer("\"type\": \"chash\", \"hash_on\": \"header\""), StringComparison.Ordinal);
        // stream-routes.t TEST 17's upstream.
        Assert.Null(RouteAnswer("\"type\": \"chash\", \"key\": \"mqtt_client_id\""));
    }

    // upstream3.t TEST 13, 16 (hash_on vars by default), TEST 20, 22 (header and cookie names): APISIX's exact answers.
    [Theory]
    [InlineData("\"key\": \"not_support\", \"desc\": \"new upstream\"", "invalid configuration: failed to match pattern \\\"" + "^((uri|server_name|server_addr|request_uri|remote_port|remote_addr|query_string|host|hostname|mqtt_client_id)|arg_[0-9a-zA-z_-]+)$" + "\\\" with \\\"not_support\\\"")]
    [InlineData("\"key\": \"$#^@\", \"hash_on\": \"header\"", "invalid configuration: failed to match pattern \\\"^[a-zA-Z0-9-_]+$\\\" with \\\"$#^@\\\"")]
    [InlineData("\"key\": \"$#^@abc\", \"hash_on\": \"cookie\"", "invalid configuration: failed to match pattern \\\"^[a-zA-Z0-9-_]+$\\\" with \\\"$#^@abc\\\"")]
    [InlineData("\"key\": \"dsadas\", \"hash_on\": \"aabbcc\"", "invalid configuration: property \\\"hash_on\\\" validation failed: matches none of the enum values")]
    public void Upstream3_t_bad_keys_answer_APISIX_message(string fields, string escaped)
    {
        // The expected texts are written as the .t files have them, with \" for a quote.
        var expected = escaped.Replace("\\\"", "\"", StringComparison.Ordinal);
        Assert.Equal(expected, UpstreamAnswer("\"type\": \"chash\", " + fields));
        Assert.Equal(expected, ServiceAnswer("\"type\": \"chash\", " + fields)!.Replace("property \"upstream\" validation failed: ", "", StringComparison.Ordinal));
    }

    [Fact]
    public void The_vars_pattern_is_APISIX_and_its_failure_is_a_check_form_error_at_the_key()
    {
        Assert.Equal(VarsPattern, UpstreamDefinition.HashVarsPattern);
        var error = Assert.Single(Upstream("\"type\": \"chash\", \"key\": \"not_support\"").Errors);
        Assert.Equal("key", error.Path);
        Assert.Equal(ConfigErrorForm.Check, error.Form);
        Assert.Contains("server_port", error.Hint, StringComparison.Ordinal);
    }

    // upstream3.t TEST 12, 14, 15, 17, 18 pass in APISIX and hash on remote_addr in stream: refused here, a documented difference.
    [Theory]
    [InlineData("server_name")]
    [InlineData("arg_device_id")]
    [InlineData("uri")]
    [InlineData("request_uri")]
    [InlineData("query_string")]
    [InlineData("host")]
    [InlineData("hostname")]
    public void Http_variables_are_refused_as_keys(string key)
    {
        var (_, errors) = Upstream($$"""
            "type": "chash", "key": "{{key}}"
            """);
        var error = ConfigAssert.Single(errors, "key", $"property \"key\" validation failed: \"{key}\" has no value on a stream connection (APISIX then hashes on remote_addr); use one of remote_addr, remote_port, server_addr, server_port, mqtt_client_id");
        Assert.Equal(ConfigErrorForm.Schema, error.Form);
    }

    // upstream3.t TEST 19, 21, 23, 24 and services.t TEST 26 pass in APISIX; a stream connection has none of these.
    [Theory]
    [InlineData("header", "\"key\": \"custom_header\",", "request headers")]
    [InlineData("cookie", "\"key\": \"custom_cookie\",", "cookies")]
    [InlineData("consumer", "", "consumer")]
    [InlineData("consumer", "\"key\": \"invalid-key\",", "consumer")]
    public void Http_only_hash_on_is_refused(string hashOn, string key, string what)
    {
        var expected = $"invalid configuration: property \"hash_on\" validation failed: hash_on \"{hashOn}\" is for HTTP routes: a stream connection has no {what} (APISIX then hashes on remote_addr); a stream upstream hashes on hash_on vars with key remote_addr, remote_port, server_addr, server_port or mqtt_client_id";
        Assert.Equal(expected, UpstreamAnswer($$"""
            {{key}} "type": "chash", "hash_on": "{{hashOn}}"
            """));
    }

    [Theory]
    [InlineData("$remote_addr $server_port")]
    [InlineData("${remote_addr}-${ remote_port }")]
    [InlineData("$mqtt_client_id")]
    [InlineData("\\\\$x $server_addr")]
    public void Vars_combinations_of_stream_variables_pass(string key) =>
        Assert.Null(UpstreamAnswer($$"""
            "type": "chash", "hash_on": "vars_combinations", "key": "{{key}}"
            """));

    [Theory]
    [InlineData("remote_addr", "\"remote_addr\" names no variable (APISIX then hashes on remote_addr)")]
    [InlineData("\\\\$remote_addr", "names no variable")]
    [InlineData("$remote_addr $uri", "\"$uri\" has no value on a stream connection; combine $remote_addr, $remote_port, $server_addr, $server_port, $mqtt_client_id")]
    [InlineData("${http_x}", "\"$http_x\" has no value on a stream connection")]
    public void Vars_combinations_need_stream_variables(string key, string message)
    {
        var (_, errors) = Upstream($$"""
            "type": "chash", "hash_on": "vars_combinations", "key": "{{key}}"
            """);
        ConfigAssert.Single(errors, "key", message);
    }

    [Fact]
    public void Hash_on_and_key_mean_nothing_without_chash_as_in_APISIX()
    {
        Assert.Null(UpstreamAnswer("\"type\": \"roundrobin\", \"hash_on\": \"header\", \"key\": \"$#^@\""));
        Assert.Null(UpstreamAnswer("\"hash_on\": \"consumer\""));
    }

    [Fact]
    public void A_key_of_the_wrong_type_is_the_schema_error_alone()
    {
        var (_, errors) = Upstream("\"type\": \"chash\", \"key\": 5");
        Assert.Equal("invalid configuration: property \"key\" validation failed: wrong type: expected string, got number", Answer(errors));
        Assert.Single(errors);
    }

    [Fact]
    public void A_bad_node_is_answered_before_a_missing_key_as_APISIX_checks_the_schema_first()
    {
        // upstream.t TEST 14 and 15, with chash as APISIX has them.
        Assert.Equal("invalid configuration: property \"nodes\" validation failed: object matches none of the required",
            Answer(UpstreamErrorsOf("""{"id": 1, "nodes": {"127.0.0.1:8080": "1"}, "type": "chash"}""")));
        Assert.Equal("invalid configuration: property \"nodes\" validation failed: object matches none of the required",
            Answer(UpstreamErrorsOf("""{"id": 1, "nodes": {"127.0.0.1:8080": -100}, "type": "chash"}""")));
    }

    private static List<ConfigError> UpstreamErrorsOf(string json)
    {
        var errors = new List<ConfigError>();
        Assert.Null(ResourceParser.ParseUpstream(JsonNode.Parse(json)!.AsObject(), "", errors));
        return errors;
    }
}
