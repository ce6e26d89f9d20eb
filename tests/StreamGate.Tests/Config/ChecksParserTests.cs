using System.Text.Json.Nodes;
using StreamGate.Config;

namespace StreamGate.Tests.Config;

/// <summary>An upstream's checks, parsed into <see cref="ChecksConfig"/> with APISIX's defaults (schema_def.lua health_checker).</summary>
public class ChecksParserTests
{
    private static UpstreamConfig Upstream(string checks)
    {
        var errors = new List<ConfigError>();
        var upstream = ResourceParser.ParseUpstream(JsonNode.Parse($$"""{"nodes": {"127.0.0.1:1980": 1}, "checks": {{checks}}}""")!.AsObject(), "upstreams[0]", errors);
        Assert.Empty(errors);
        return upstream!;
    }

    [Fact]
    public void NoChecksIsNull()
    {
        var errors = new List<ConfigError>();
        Assert.Null(ResourceParser.ParseUpstream(JsonNode.Parse("""{"nodes": {"127.0.0.1:1980": 1}}""")!.AsObject(), "u", errors)!.Checks);
    }

    [Fact]
    public void AnEmptyActiveTakesApisixDefaults()
    {
        var checks = Upstream("""{"active": {}}""").Checks!;
        Assert.Null(checks.Passive);
        var active = checks.Active!;
        Assert.Equal("http", active.Type);
        Assert.Equal(1, active.Timeout);
        Assert.Equal(10, active.Concurrency);
        Assert.Null(active.Host);
        Assert.Null(active.Port);
        Assert.Equal("GET", active.HttpMethod);
        Assert.Equal("/", active.HttpPath);
        Assert.Equal("", active.HttpReqBody);
        Assert.True(active.HttpsVerifyCertificate);
        Assert.Empty(active.ReqHeaders);
        Assert.Null(active.Send);
        Assert.Null(active.Expect);
        Assert.Equal(1, active.Healthy.Interval);
        Assert.Equal([200, 302], active.Healthy.HttpStatuses);
        Assert.Equal(2, active.Healthy.Successes);
        Assert.Equal(1, active.Unhealthy.Interval);
        Assert.Equal([429, 404, 500, 501, 502, 503, 504, 505], active.Unhealthy.HttpStatuses);
        Assert.Equal(5, active.Unhealthy.HttpFailures);
        Assert.Equal(2, active.Unhealthy.TcpFailures);
        Assert.Equal(3, active.Unhealthy.Timeouts);
        Assert.Equal(new ActiveCheckConfig(), active);
    }

    [Fact]
    public void EveryActiveFieldIsRead()
    {
        var active = Upstream("""
            {"active": {"type": "https", "timeout": 2.5, "concurrency": 3, "host": "db.example", "port": 8443,
              "http_method": "HEAD", "http_path": "/status", "http_req_body": "ping", "https_verify_certificate": false,
              "req_headers": ["User-Agent: probe", "X-Check: 1"],
              "healthy": {"interval": 4, "http_statuses": [200, 204], "successes": 3},
              "unhealthy": {"interval": 7, "http_statuses": [500], "http_failures": 2, "tcp_failures": 4, "timeouts": 5}}}
            """).Checks!.Active!;
        Assert.Equal("https", active.Type);
        Assert.Equal(2.5, active.Timeout);
        Assert.Equal(3, active.Concurrency);
        Assert.Equal("db.example", active.Host);
        Assert.Equal(8443, active.Port);
        Assert.Equal("HEAD", active.HttpMethod);
        Assert.Equal("/status", active.HttpPath);
        Assert.Equal("ping", active.HttpReqBody);
        Assert.False(active.HttpsVerifyCertificate);
        Assert.Equal(["User-Agent: probe", "X-Check: 1"], active.ReqHeaders);
        Assert.Equal(4, active.Healthy.Interval);
        Assert.Equal([200, 204], active.Healthy.HttpStatuses);
        Assert.Equal(3, active.Healthy.Successes);
        Assert.Equal(7, active.Unhealthy.Interval);
        Assert.Equal([500], active.Unhealthy.HttpStatuses);
        Assert.Equal(2, active.Unhealthy.HttpFailures);
        Assert.Equal(4, active.Unhealthy.TcpFailures);
        Assert.Equal(5, active.Unhealthy.Timeouts);
    }

    [Fact]
    public void TcpSendAndExpectAreOurs()
    {
        var active = Upstream("""{"active": {"type": "tcp", "send": "PING\r\n", "expect": "+PONG"}}""").Checks!.Active!;
        Assert.Equal("tcp", active.Type);
        Assert.Equal("PING\r\n", active.Send);
        Assert.Equal("+PONG", active.Expect);
    }

    [Fact]
    public void PassiveAloneIsAccepted()
    {
        var checks = Upstream("""{"passive": {"type": "tcp", "unhealthy": {"tcp_failures": 3, "recover_after": 2.5}}}""").Checks!;
        Assert.Null(checks.Active);
        var passive = checks.Passive!;
        Assert.Equal("tcp", passive.Type);
        Assert.Equal(3, passive.Unhealthy.TcpFailures);
        Assert.Equal(7, passive.Unhealthy.Timeouts);
        Assert.Equal(5, passive.Unhealthy.HttpFailures);
        Assert.Equal(2.5, passive.Unhealthy.RecoverAfter);
        Assert.Equal(5, passive.Healthy.Successes);
        Assert.Equal(new PassiveHealthyConfig(), passive.Healthy);
    }

    [Fact]
    public void PassiveDefaultsAreApisixsAndRecoverAfterIsTenSeconds()
    {
        var passive = Upstream("""{"active": {"type": "tcp"}, "passive": {}}""").Checks!.Passive!;
        Assert.Equal(new PassiveCheckConfig(), passive);
        Assert.Equal("http", passive.Type);
        Assert.Equal([200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308], passive.Healthy.HttpStatuses);
        Assert.Equal([429, 500, 503], passive.Unhealthy.HttpStatuses);
        Assert.Equal(2, passive.Unhealthy.TcpFailures);
        Assert.Equal(7, passive.Unhealthy.Timeouts);
        Assert.Equal(10, passive.Unhealthy.RecoverAfter);
    }

    [Fact]
    public void ZeroPassiveThresholdsAreKept()
    {
        var passive = Upstream("""{"passive": {"healthy": {"successes": 0}, "unhealthy": {"timeouts": 0}}}""").Checks!.Passive!;
        Assert.Equal(0, passive.Healthy.Successes);
        Assert.Equal(0, passive.Unhealthy.Timeouts);
    }

    [Theory]
    [InlineData("0", 1)]
    [InlineData("-3", 1)]
    [InlineData("1e16", CommonDefinitions.MaxTimeoutSeconds)]
    [InlineData("0.2", 0.2)]
    public void TimeoutsAProbeCannotRunWithAreBroughtIntoRange(string timeout, double expected)
    {
        Assert.Equal(expected, Upstream("{\"active\": {\"timeout\": " + timeout + "}}").Checks!.Active!.Timeout);
    }

    [Fact]
    public void ConcurrencyBelowOneIsOne()
    {
        Assert.Equal(1, Upstream("""{"active": {"concurrency": 0}}""").Checks!.Active!.Concurrency);
    }

    [Fact]
    public void EqualChecksAreEqualValues()
    {
        const string checks = """{"active": {"type": "tcp", "req_headers": ["a: b"], "healthy": {"http_statuses": [200]}}, "passive": {"unhealthy": {"http_statuses": [500]}}}""";
        var a = Upstream(checks).Checks!;
        var b = Upstream(checks).Checks!;
        Assert.NotSame(a, b);
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, Upstream("""{"active": {"type": "tcp", "req_headers": ["a: c"], "healthy": {"http_statuses": [200]}}, "passive": {"unhealthy": {"http_statuses": [500]}}}""").Checks);
    }

    [Fact]
    public void InlineUpstreamsOfRoutesAndServicesHaveChecks()
    {
        var errors = new List<ConfigError>();
        var route = ResourceParser.ParseStreamRoute(JsonNode.Parse("""
            {"id": 1, "upstream": {"nodes": {"127.0.0.1:1980": 1}, "checks": {"active": {"type": "tcp", "healthy": {"interval": 3}}}}}
            """)!.AsObject(), "stream_routes[0]", errors);
        var service = ResourceParser.ParseService(JsonNode.Parse("""
            {"id": 1, "upstream": {"nodes": {"127.0.0.1:1980": 1}, "checks": {"passive": {"unhealthy": {"tcp_failures": 1}}}}}
            """)!.AsObject(), "services[0]", errors);
        Assert.Empty(errors);
        Assert.Equal(3, route!.Upstream!.Checks!.Active!.Healthy.Interval);
        Assert.Equal(1, service!.Upstream!.Checks!.Passive!.Unhealthy.TcpFailures);
    }

    [Fact]
    public void StandaloneYamlChecksParse()
    {
        var set = StandaloneFile.Parse("""
            upstreams:
              - id: 1
                nodes:
                  "127.0.0.1:1980": 1
                checks:
                  active:
                    type: tcp
                    timeout: 0.5
                    healthy: {interval: 2, successes: 1}
                    unhealthy: {interval: 1, tcp_failures: 1}
                  passive:
                    unhealthy: {tcp_failures: 3, recover_after: 4}
            #END
            """);
        var checks = set.Upstreams["1"].Checks!;
        Assert.Equal(0.5, checks.Active!.Timeout);
        Assert.Equal(2, checks.Active.Healthy.Interval);
        Assert.Equal(1, checks.Active.Unhealthy.TcpFailures);
        Assert.Equal(4, checks.Passive!.Unhealthy.RecoverAfter);
    }
}
