using System.Text.Json.Nodes;
using StreamGate.Admin;
using StreamGate.Config;

namespace StreamGate.Tests.Config;

/// <summary>
/// An upstream's <c>checks</c>: APISIX's health_checker schema (apisix/schema_def.lua) with its types, limits,
/// defaults and open objects, answered in APISIX's words (the health-check.t blocks are named), and our additions:
/// passive checks alone, <c>active.send</c>/<c>expect</c> for tcp probes, <c>passive.unhealthy.recover_after</c>.
/// </summary>
public class UpstreamChecksSchemaTests
{
    private const string Nodes = "\"nodes\": {\"127.0.0.1:8080\": 1}, \"type\": \"roundrobin\"";

    private static List<ConfigError> UpstreamErrors(string checks)
    {
        var errors = new List<ConfigError>();
        var upstream = ResourceParser.ParseUpstream(JsonNode.Parse($$"""{ {{Nodes}}, "checks": {{checks}} }""")!.AsObject(), "", errors);
        Assert.Equal(upstream is null, errors.Count > 0);
        return errors;
    }

    /// <summary>What the admin API answers for a stream route whose inline upstream has these checks (APISIX's blocks use a route).</summary>
    private static string? RouteAnswer(string checks)
    {
        var errors = new List<ConfigError>();
        var route = ResourceParser.ParseStreamRoute(JsonNode.Parse($$$"""{"upstream": { {{{Nodes}}}, "checks": {{{checks}}} }}""")!.AsObject(), "", errors);
        Assert.Equal(route is null, errors.Count > 0);
        return errors.Count == 0 ? null : AdminErrors.Message(AdminErrors.First(errors));
    }

    private const string Prefix = "invalid configuration: property \"upstream\" validation failed: property \"checks\" validation failed: ";

    // health-check.t TEST 1 (active), 2 (active and passive), 9 and 10 (req_headers), 13 (passive counters of 0), 14 (a fractional timeout).
    [Theory]
    [InlineData("""{"active": {"http_path": "/status", "host": "foo.com", "healthy": {"interval": 2, "successes": 1}, "unhealthy": {"interval": 1, "http_failures": 2}}}""")]
    [InlineData("""{"active": {"http_path": "/status", "host": "foo.com", "healthy": {"interval": 2, "successes": 1}}, "passive": {"healthy": {"http_statuses": [200, 201], "successes": 1}, "unhealthy": {"http_statuses": [500], "http_failures": 2}}}""")]
    [InlineData("""{"active": {"http_path": "/status", "host": "foo.com", "healthy": {"interval": 2, "successes": 1}, "req_headers": ["User-Agent: curl/7.29.0"]}}""")]
    [InlineData("""{"active": {"http_path": "/status", "host": "foo.com", "healthy": {"interval": 2, "successes": 1}, "req_headers": ["User-Agent: curl/7.29.0", "Accept: */*"]}}""")]
    [InlineData("""{"active": {"http_path": "/status", "host": "foo.com", "healthy": {"interval": 2, "successes": 1}, "unhealthy": {"interval": 1, "http_failures": 2}}, "passive": {"type": "http", "healthy": {"http_statuses": [200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308], "successes": 0}, "unhealthy": {"http_statuses": [429, 500, 503], "tcp_failures": 0, "timeouts": 0, "http_failures": 0}}}""")]
    [InlineData("""{"active": {"http_path": "/status", "host": "foo.com", "timeout": 1.01, "healthy": {"interval": 2, "successes": 1}, "unhealthy": {"interval": 1, "http_failures": 2}}}""")]
    public void Health_check_t_valid_checks_pass(string checks)
    {
        Assert.Null(RouteAnswer(checks));
        Assert.Empty(UpstreamErrors(checks));
    }

    // health-check.t TEST 3 to 8 and 11: APISIX's exact error_msg.
    [Theory]
    [InlineData("""{"active": {"healthy": {"successes": 255}}}""", "property \"active\" validation failed: property \"healthy\" validation failed: property \"successes\" validation failed: expected 255 to be at most 254")]
    [InlineData("""{"active": {"healthy": {"successes": 0}}}""", "property \"active\" validation failed: property \"healthy\" validation failed: property \"successes\" validation failed: expected 0 to be at least 1")]
    [InlineData("""{"passive": {"unhealthy": {"http_statuses": [500, 600]}}}""", "property \"passive\" validation failed: property \"unhealthy\" validation failed: property \"http_statuses\" validation failed: failed to validate item 2: expected 600 to be at most 599")]
    [InlineData("""{"active": {"type": "udp"}}""", "property \"active\" validation failed: property \"type\" validation failed: matches none of the enum values")]
    [InlineData("""{"active": {"healthy": {"http_statuses": [200, 200]}}}""", "property \"active\" validation failed: property \"healthy\" validation failed: property \"http_statuses\" validation failed: expected unique items but items 1 and 2 are equal")]
    [InlineData("""{"active": {"unhealthy": {"http_failures": 3.1}}}""", "property \"active\" validation failed: property \"unhealthy\" validation failed: property \"http_failures\" validation failed: wrong type: expected integer, got number")]
    [InlineData("""{"active": {"http_path": "/status", "host": "foo.com", "healthy": {"interval": 2, "successes": 1}, "req_headers": ["User-Agent: curl/7.29.0", 2233]}}""", "property \"active\" validation failed: property \"req_headers\" validation failed: failed to validate item 2: wrong type: expected string, got number")]
    public void Health_check_t_invalid_checks_answer_APISIX_message(string checks, string message) =>
        Assert.Equal(Prefix + message, RouteAnswer(checks));

    // health-check.t TEST 12 is refused by APISIX (its anyOf requires active); StreamGate takes passive checks alone.
    [Fact]
    public void Health_check_t_TEST_12_passive_alone_is_accepted_beyond_APISIX() =>
        Assert.Null(RouteAnswer("""{"passive": {"healthy": {"http_statuses": [200, 201], "successes": 1}, "unhealthy": {"http_statuses": [500], "http_failures": 2}}}"""));

    [Fact]
    public void Empty_checks_are_refused_with_api7s_required_lists()
    {
        var error = Assert.Single(UpstreamErrors("{}"));
        Assert.Equal("checks", error.Path);
        Assert.Equal("property \"checks\" validation failed: object matches none of the required: [\"active\"] or [\"passive\"]", error.Message);
        Assert.Contains("active, passive or both", error.Hint, StringComparison.Ordinal);
        Assert.Equal(Prefix + "object matches none of the required: [\"active\"] or [\"passive\"]", RouteAnswer("{}"));
        // Something else alone is no check either: the objects are open, the anyOf still wants one of the two.
        Assert.Equal(Prefix + "object matches none of the required: [\"active\"] or [\"passive\"]", RouteAnswer("""{"activ": {}}"""));
    }

    [Theory]
    [InlineData("5", "property \"checks\" validation failed: wrong type: expected object, got number")]
    [InlineData("""{"active": 1}""", "property \"checks\" validation failed: property \"active\" validation failed: wrong type: expected object, got number")]
    [InlineData("""{"active": {"timeout": "1s"}}""", "property \"checks\" validation failed: property \"active\" validation failed: property \"timeout\" validation failed: wrong type: expected number, got string")]
    [InlineData("""{"active": {"concurrency": 1.5}}""", "property \"checks\" validation failed: property \"active\" validation failed: property \"concurrency\" validation failed: wrong type: expected integer, got number")]
    [InlineData("""{"active": {"port": 0}}""", "property \"checks\" validation failed: property \"active\" validation failed: property \"port\" validation failed: expected 0 to be at least 1")]
    [InlineData("""{"active": {"port": 65536}}""", "property \"checks\" validation failed: property \"active\" validation failed: property \"port\" validation failed: expected 65536 to be at most 65535")]
    [InlineData("""{"active": {"host": "a b"}}""", "property \"checks\" validation failed: property \"active\" validation failed: property \"host\" validation failed: failed to match pattern \"^\\*$|^\\*?[0-9a-zA-Z-._\\[\\]:]+$\" with \"a b\"")]
    [InlineData("""{"active": {"https_verify_certificate": "yes"}}""", "property \"checks\" validation failed: property \"active\" validation failed: property \"https_verify_certificate\" validation failed: wrong type: expected boolean, got string")]
    [InlineData("""{"active": {"http_method": "FETCH"}}""", "property \"checks\" validation failed: property \"active\" validation failed: property \"http_method\" validation failed: matches none of the enum values")]
    [InlineData("""{"active": {"req_headers": []}}""", "property \"checks\" validation failed: property \"active\" validation failed: property \"req_headers\" validation failed: expect array to have at least 1 items")]
    [InlineData("""{"active": {"healthy": {"interval": 0}}}""", "property \"checks\" validation failed: property \"active\" validation failed: property \"healthy\" validation failed: property \"interval\" validation failed: expected 0 to be at least 1")]
    [InlineData("""{"active": {"unhealthy": {"tcp_failures": 0}}}""", "property \"checks\" validation failed: property \"active\" validation failed: property \"unhealthy\" validation failed: property \"tcp_failures\" validation failed: expected 0 to be at least 1")]
    [InlineData("""{"active": {"unhealthy": {"timeouts": 255}}}""", "property \"checks\" validation failed: property \"active\" validation failed: property \"unhealthy\" validation failed: property \"timeouts\" validation failed: expected 255 to be at most 254")]
    [InlineData("""{"active": {"healthy": {"http_statuses": [199]}}}""", "property \"checks\" validation failed: property \"active\" validation failed: property \"healthy\" validation failed: property \"http_statuses\" validation failed: failed to validate item 1: expected 199 to be at least 200")]
    [InlineData("""{"passive": {"type": "udp"}}""", "property \"checks\" validation failed: property \"passive\" validation failed: property \"type\" validation failed: matches none of the enum values")]
    [InlineData("""{"passive": {"unhealthy": {"tcp_failures": -1}}}""", "property \"checks\" validation failed: property \"passive\" validation failed: property \"unhealthy\" validation failed: property \"tcp_failures\" validation failed: expected -1 to be at least 0")]
    [InlineData("""{"passive": {"healthy": {"successes": 255}}}""", "property \"checks\" validation failed: property \"passive\" validation failed: property \"healthy\" validation failed: property \"successes\" validation failed: expected 255 to be at most 254")]
    [InlineData("""{"passive": {"healthy": {"http_statuses": []}}}""", "property \"checks\" validation failed: property \"passive\" validation failed: property \"healthy\" validation failed: property \"http_statuses\" validation failed: expect array to have at least 1 items")]
    public void Every_field_keeps_APISIX_types_and_limits(string checks, string message)
    {
        var errors = UpstreamErrors(checks);
        Assert.Equal("invalid configuration: " + message, AdminErrors.Message(AdminErrors.First(errors)));
    }

    [Fact]
    public void The_objects_are_open_as_APISIX_has_them()
    {
        // No additionalProperties: false anywhere in health_checker: unknown fields pass, as APISIX stores them.
        Assert.Empty(UpstreamErrors("""{"active": {"type": "tcp", "foo": 1, "healthy": {"bar": true}, "unhealthy": {"baz": []}}, "passive": {"qux": 1, "healthy": {}, "unhealthy": {}}, "extra": 1}"""));
    }

    [Fact]
    public void The_served_schema_has_APISIX_defaults()
    {
        var checks = UpstreamDefinition.Schema["properties"]!["checks"]!["properties"]!;
        var active = checks["active"]!["properties"]!;
        var passive = checks["passive"]!["properties"]!;
        Assert.Equal("http", active["type"]!["default"]!.GetValue<string>());
        Assert.Equal(1, active["timeout"]!["default"]!.GetValue<int>());
        Assert.Equal(10, active["concurrency"]!["default"]!.GetValue<int>());
        Assert.Equal("/", active["http_path"]!["default"]!.GetValue<string>());
        Assert.True(active["https_verify_certificate"]!["default"]!.GetValue<bool>());
        Assert.Equal(1, active["healthy"]!["properties"]!["interval"]!["default"]!.GetValue<int>());
        Assert.Equal("[200,302]", active["healthy"]!["properties"]!["http_statuses"]!["default"]!.ToJsonString());
        Assert.Equal(2, active["healthy"]!["properties"]!["successes"]!["default"]!.GetValue<int>());
        var activeUnhealthy = active["unhealthy"]!["properties"]!;
        Assert.Equal("[429,404,500,501,502,503,504,505]", activeUnhealthy["http_statuses"]!["default"]!.ToJsonString());
        Assert.Equal(5, activeUnhealthy["http_failures"]!["default"]!.GetValue<int>());
        Assert.Equal(2, activeUnhealthy["tcp_failures"]!["default"]!.GetValue<int>());
        Assert.Equal(3, activeUnhealthy["timeouts"]!["default"]!.GetValue<int>());
        Assert.Equal("http", passive["type"]!["default"]!.GetValue<string>());
        Assert.Equal(5, passive["healthy"]!["properties"]!["successes"]!["default"]!.GetValue<int>());
        Assert.Equal(19, passive["healthy"]!["properties"]!["http_statuses"]!["default"]!.AsArray().Count);
        var passiveUnhealthy = passive["unhealthy"]!["properties"]!;
        Assert.Equal("[429,500,503]", passiveUnhealthy["http_statuses"]!["default"]!.ToJsonString());
        Assert.Equal(2, passiveUnhealthy["tcp_failures"]!["default"]!.GetValue<int>());
        Assert.Equal(7, passiveUnhealthy["timeouts"]!["default"]!.GetValue<int>());
        Assert.Equal(5, passiveUnhealthy["http_failures"]!["default"]!.GetValue<int>());
        Assert.Equal(10, passiveUnhealthy["recover_after"]!["default"]!.GetValue<int>());
        // Ours say so in their descriptions.
        Assert.Contains("beyond APISIX", active["send"]!["description"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("beyond APISIX", active["expect"]!["description"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("beyond APISIX", passiveUnhealthy["recover_after"]!["description"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Contains("beyond APISIX", UpstreamDefinition.Schema["properties"]!["checks"]!["description"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"active": {"type": "tcp", "send": "PING\r\n", "expect": "+PONG"}}""")]
    [InlineData("""{"active": {"type": "tcp", "expect": "220 "}}""")]
    [InlineData("""{"active": {"type": "tcp", "send": "x"}}""")]
    public void A_tcp_probe_may_send_and_expect(string checks) => Assert.Empty(UpstreamErrors(checks));

    [Theory]
    [InlineData("send", "\"\"", "string too short, expected at least 1, got 0")]
    [InlineData("expect", "\"\"", "string too short, expected at least 1, got 0")]
    [InlineData("send", "1", "wrong type: expected string, got number")]
    public void Send_and_expect_are_strings_of_1_to_4096(string field, string value, string message)
    {
        var error = Assert.Single(UpstreamErrors($"{{\"active\": {{\"type\": \"tcp\", \"{field}\": {value}}}}}"));
        Assert.Equal($"checks.active.{field}", error.Path);
        Assert.EndsWith(message, error.Message, StringComparison.Ordinal);
        var tooLong = Assert.Single(UpstreamErrors($$$"""{"active": {"type": "tcp", "{{{field}}}": "{{{new string('a', 4097)}}}"}}"""));
        Assert.EndsWith("string too long, expected at most 4096, got 4097", tooLong.Message, StringComparison.Ordinal);
        Assert.Empty(UpstreamErrors($$$"""{"active": {"type": "tcp", "{{{field}}}": "{{{new string('a', 4096)}}}"}}"""));
    }

    [Theory]
    [InlineData("\"http\",", "send", "\"http\"")]
    [InlineData("\"https\",", "expect", "\"https\"")]
    [InlineData("", "send", "\"http\" (the default when type is not set)")]
    public void Send_and_expect_are_refused_for_http_probes(string type, string field, string said)
    {
        var typeField = type.Length == 0 ? "" : "\"type\": " + type;
        var errors = UpstreamErrors($$$"""{"active": { {{{typeField}}} "{{{field}}}": "PING"}}""");
        var error = ConfigAssert.Single(errors, $"checks.active.{field}", $"property \"{field}\" validation failed: {field} is for tcp probes, and this active check's type is {said}");
        Assert.Contains("set \"type\": \"tcp\"", error.Message, StringComparison.Ordinal);
        Assert.Single(errors);
        Assert.Equal(
            $"invalid configuration: property \"checks\" validation failed: property \"active\" validation failed: {error.Message}",
            AdminErrors.Message(error));
    }

    [Theory]
    [InlineData("0", "expected 0 to be greater than 0")]
    [InlineData("-1", "expected -1 to be greater than 0")]
    [InlineData("\"10s\"", "wrong type: expected number, got string")]
    public void Recover_after_is_a_positive_number_of_seconds(string value, string message)
    {
        var error = Assert.Single(UpstreamErrors($"{{\"passive\": {{\"type\": \"tcp\", \"unhealthy\": {{\"recover_after\": {value}}}}}}}"));
        Assert.Equal("checks.passive.unhealthy.recover_after", error.Path);
        Assert.EndsWith(message, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Recover_after_takes_fractions_and_passive_alone_serves()
    {
        Assert.Empty(UpstreamErrors("""{"passive": {"type": "tcp", "unhealthy": {"tcp_failures": 3, "timeouts": 2, "recover_after": 0.5}}}"""));
        Assert.Empty(UpstreamErrors("""{"active": {"type": "tcp"}, "passive": {"type": "tcp", "unhealthy": {"recover_after": 30}}}"""));
    }

    [Fact]
    public void Checks_in_a_service_upstream_are_checked_too()
    {
        var errors = new List<ConfigError>();
        Assert.Null(ResourceParser.ParseService(JsonNode.Parse($$$"""{"upstream": { {{{Nodes}}}, "checks": {"active": {"send": "x"}} }}""")!.AsObject(), "", errors));
        ConfigAssert.Single(errors, "upstream.checks.active.send", "send is for tcp probes");
    }
}
