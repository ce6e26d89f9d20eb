using System.Net;
using static StreamGate.IntegrationTests.Admin.Apisix.ApisixPort;

namespace StreamGate.IntegrationTests.Admin.Apisix;

/// <summary>
/// apache/apisix t/admin/health-check.t (an HTTP route's inline upstream there, a stream route's here: the answers
/// are the same, the route's body aside) and the admin blocks of t/stream-node/healthcheck-resty-events.t and
/// control-api-healthcheck.t, on the real gateway. The checks' schema is also unit-tested (UpstreamChecksSchemaTests).
/// </summary>
public sealed class HealthCheckTests(AdminGatewayFixture fixture) : IClassFixture<AdminGatewayFixture>
{
    private AdminGateway Gateway => fixture.Gateway;

    private const string Prefix = "invalid configuration: property \"upstream\" validation failed: property \"checks\" validation failed: ";

    private static string Route(string checks) =>
        $$$"""{"remote_addr": "127.0.0.1", "upstream": {"nodes": {"127.0.0.1:8080": 1}, "type": "roundrobin", "checks": {{{checks}}}}}""";

    /// <summary>health-check.t TEST 1 (active), 2 (active and passive), 9, 10 (req_headers), 13 (passive counters of 0), 14 (a fractional timeout): stored as sent.</summary>
    [Theory(Timeout = TestTimeoutMs)]
    [InlineData("""{"active": {"http_path": "/status", "host": "foo.com", "healthy": {"interval": 2, "successes": 1}, "unhealthy": {"interval": 1, "http_failures": 2}}}""")]
    [InlineData("""{"active": {"http_path": "/status", "host": "foo.com", "healthy": {"interval": 2, "successes": 1}}, "passive": {"healthy": {"http_statuses": [200, 201], "successes": 1}, "unhealthy": {"http_statuses": [500], "http_failures": 2}}}""")]
    [InlineData("""{"active": {"http_path": "/status", "host": "foo.com", "healthy": {"interval": 2, "successes": 1}, "req_headers": ["User-Agent: curl/7.29.0"]}}""")]
    [InlineData("""{"active": {"http_path": "/status", "host": "foo.com", "healthy": {"interval": 2, "successes": 1}, "req_headers": ["User-Agent: curl/7.29.0", "Accept: */*"]}}""")]
    [InlineData("""{"active": {"http_path": "/status", "host": "foo.com", "healthy": {"interval": 2, "successes": 1}, "unhealthy": {"interval": 1, "http_failures": 2}}, "passive": {"type": "http", "healthy": {"http_statuses": [200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308], "successes": 0}, "unhealthy": {"http_statuses": [429, 500, 503], "tcp_failures": 0, "timeouts": 0, "http_failures": 0}}}""")]
    [InlineData("""{"active": {"http_path": "/status", "host": "foo.com", "timeout": 1.01, "healthy": {"interval": 2, "successes": 1}, "unhealthy": {"interval": 1, "http_failures": 2}}}""")]
    public async Task Health_check_t_TEST_1_2_9_10_13_14_valid_checks(string checks)
    {
        var body = Route(checks);
        await Gateway.PassesAsync(Put, "stream_routes/hc", body, $$"""{"value": {{body}}, "key": "/apisix/stream_routes/hc"}""");
        await Gateway.PassesAsync(Delete, "stream_routes/hc");
    }

    /// <summary>health-check.t TEST 3 to 8 and 11: APISIX's exact error_msg.</summary>
    [Theory(Timeout = TestTimeoutMs)]
    [InlineData("""{"active": {"healthy": {"successes": 255}}}""", "property \"active\" validation failed: property \"healthy\" validation failed: property \"successes\" validation failed: expected 255 to be at most 254")]
    [InlineData("""{"active": {"healthy": {"successes": 0}}}""", "property \"active\" validation failed: property \"healthy\" validation failed: property \"successes\" validation failed: expected 0 to be at least 1")]
    [InlineData("""{"passive": {"unhealthy": {"http_statuses": [500, 600]}}}""", "property \"passive\" validation failed: property \"unhealthy\" validation failed: property \"http_statuses\" validation failed: failed to validate item 2: expected 600 to be at most 599")]
    [InlineData("""{"active": {"type": "udp"}}""", "property \"active\" validation failed: property \"type\" validation failed: matches none of the enum values")]
    [InlineData("""{"active": {"healthy": {"http_statuses": [200, 200]}}}""", "property \"active\" validation failed: property \"healthy\" validation failed: property \"http_statuses\" validation failed: expected unique items but items 1 and 2 are equal")]
    [InlineData("""{"active": {"unhealthy": {"http_failures": 3.1}}}""", "property \"active\" validation failed: property \"unhealthy\" validation failed: property \"http_failures\" validation failed: wrong type: expected integer, got number")]
    [InlineData("""{"active": {"http_path": "/status", "host": "foo.com", "healthy": {"interval": 2, "successes": 1}, "req_headers": ["User-Agent: curl/7.29.0", 2233]}}""", "property \"active\" validation failed: property \"req_headers\" validation failed: failed to validate item 2: wrong type: expected string, got number")]
    public async Task Health_check_t_TEST_3_to_8_and_11_invalid_checks(string checks, string message) =>
        await Gateway.FailsAsync(Put, "stream_routes/hc-bad", Route(checks), HttpStatusCode.BadRequest, Prefix + message);

    /// <summary>
    /// health-check.t TEST 12: APISIX refuses passive checks alone (its anyOf wants active); StreamGate takes them
    /// (beyond, docs/admin-api.md), and an empty checks is still refused, with api7's required lists.
    /// </summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Health_check_t_TEST_12_passive_alone_passes_a_documented_difference()
    {
        await Gateway.PassesAsync(Put, "stream_routes/hc-passive",
            Route("""{"passive": {"healthy": {"http_statuses": [200, 201], "successes": 1}, "unhealthy": {"http_statuses": [500], "http_failures": 2}}}"""));
        await Gateway.PassesAsync(Delete, "stream_routes/hc-passive");
        var reply = await Gateway.FailsAsync(Put, "stream_routes/hc-empty", Route("{}"), HttpStatusCode.BadRequest,
            Prefix + "object matches none of the required: [\"active\"] or [\"passive\"]");
        Assert.Contains("active, passive or both", reply.Body!["hint"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    /// <summary>
    /// stream-node/healthcheck-resty-events.t TEST 1 (tcp active checks on two nodes with priorities) and
    /// control-api-healthcheck.t TEST 1 (with an unknown unhealthy.failures, which APISIX's open objects take).
    /// </summary>
    [Theory(Timeout = TestTimeoutMs)]
    [InlineData("""{"remote_addr": "127.0.0.1", "upstream": {"nodes": [{"host": "127.0.0.1", "port": 1995, "weight": 100, "priority": 0}, {"host": "127.0.0.1", "port": 9995, "weight": 100, "priority": 1}], "type": "roundrobin", "retries": 0, "checks": {"active": {"type": "tcp", "timeout": 1, "healthy": {"interval": 1, "successes": 2}, "unhealthy": {"interval": 1, "tcp_failures": 1, "timeouts": 1}}}}}""")]
    [InlineData("""{"remote_addr": "127.0.0.1", "upstream": {"nodes": {"127.0.0.1:1995": 1}, "type": "roundrobin", "checks": {"active": {"timeout": 40, "type": "tcp", "unhealthy": {"interval": 60, "failures": 2}, "healthy": {"interval": 60, "successes": 2}, "concurrency": 2}}, "retries": 3, "timeout": {"read": 40, "send": 40, "connect": 40}}}""")]
    public async Task Stream_node_tcp_active_checks(string body)
    {
        await Gateway.PassesAsync(Put, "stream_routes/hc-tcp", body, $$"""{"value": {{body}}}""");
        await Gateway.PassesAsync(Delete, "stream_routes/hc-tcp");
    }

    /// <summary>Ours: a tcp probe's send and expect are stored; on an http probe they are refused with the fix.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Send_and_expect_belong_to_tcp_probes()
    {
        await Gateway.PassesAsync(Put, "upstreams/hc-probe", """{"nodes": {"127.0.0.1:6379": 1}, "checks": {"active": {"type": "tcp", "send": "PING\r\n", "expect": "+PONG"}, "passive": {"type": "tcp", "unhealthy": {"tcp_failures": 2, "recover_after": 5}}}}""",
            """{"value": {"checks": {"active": {"send": "PING\r\n", "expect": "+PONG"}}}}""");
        var reply = await Gateway.FailsAsync(Put, "upstreams/hc-probe", """{"nodes": {"127.0.0.1:6379": 1}, "checks": {"active": {"send": "PING\r\n"}}}""", HttpStatusCode.BadRequest);
        Assert.Equal("invalid configuration: property \"checks\" validation failed: property \"active\" validation failed: property \"send\" validation failed: send is for tcp probes, and this active check's type is \"http\" (the default when type is not set); set \"type\": \"tcp\", or remove send (http and https probes check http_statuses)",
            reply.ErrorMessage);
        await Gateway.PassesAsync(Delete, "upstreams/hc-probe");
    }
}
