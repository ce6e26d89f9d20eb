using System.Text.Json.Nodes;
using StreamGate.Config;

namespace StreamGate.Tests.Config;

/// <summary>
/// The validator refuses what the snapshot builder cannot build (issue 7, fault 1 and 7): node hosts of more than
/// 255 characters or with labels that are not RFC 1123's, timeouts that overflow a millisecond deadline, ids with a
/// trailing newline.
/// </summary>
public class ResourceLimitsTests
{
    private static (UpstreamConfig? Upstream, List<ConfigError> Errors) Upstream(string json)
    {
        var errors = new List<ConfigError>();
        var upstream = ResourceParser.ParseUpstream(JsonNode.Parse(json)!.AsObject(), "upstreams[0]", errors);
        Assert.Equal(upstream is null, errors.Count > 0);
        return (upstream, errors);
    }

    private static string Label(int length) => new('a', length);

    public static TheoryData<string> UnusableHosts => new()
    {
        Label(300),                                         // the fault probe's host: one label of 300
        string.Join('.', Enumerable.Repeat(Label(63), 4)) + ".a", // 257 characters of valid labels
        Label(64) + ".example",                             // a label of 64
        "a..b",
        ".a",
        "-a.example",
        "a-.example",
        "a*b",
        "*",
        "*.example.com",
        "1.2.3.256",
        "1.2.3",
    };

    [Theory]
    [MemberData(nameof(UnusableHosts))]
    public void Unusable_hosts_are_refused_in_the_map_form(string host)
    {
        var (_, errors) = Upstream($$$"""{"nodes": {"{{{host}}}:80": 1}}""");
        var error = Assert.Single(errors);
        Assert.StartsWith("upstreams[0].nodes[\"", error.Path, StringComparison.Ordinal);
        Assert.StartsWith("invalid node address \"", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(UnusableHosts))]
    public void Unusable_hosts_are_refused_in_the_array_form(string host)
    {
        var (_, errors) = Upstream($$"""{"nodes": [{"host": "{{host}}", "port": 80, "weight": 1}]}""");
        var error = Assert.Single(errors);
        if (error.Path == "upstreams[0].nodes")
        {
            // The schema's pattern or length: APISIX's one answer for nodes, and the hint says it is this node's host.
            Assert.EndsWith("object matches none of the required", error.Message, StringComparison.Ordinal);
            Assert.Contains("nodes[0].host: ", error.Hint, StringComparison.Ordinal);
        }
        else
        {
            // The host-name check after the schema (RFC 1123, IP literals): at the host itself.
            Assert.Equal("upstreams[0].nodes[0].host", error.Path);
            Assert.StartsWith("property \"host\" validation failed: ", error.Message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void The_300_character_host_of_the_fault_probe_names_the_limit()
    {
        var (_, mapErrors) = Upstream($$$"""{"nodes": {"{{{Label(300)}}}:80": 1}}""");
        Assert.Contains("a host name is at most 255 characters, got 300", Assert.Single(mapErrors).Message, StringComparison.Ordinal);
        var (_, arrayErrors) = Upstream($$"""{"nodes": [{"host": "{{Label(300)}}", "port": 80, "weight": 1}]}""");
        Assert.EndsWith("nodes[0].host: string too long, expected at most 255, got 300", Assert.Single(arrayErrors).Hint, StringComparison.Ordinal);
    }

    public static TheoryData<string> UsableHosts => new()
    {
        "127.0.0.1",
        "redis",
        "redis.svc.cluster.local",
        "redis.svc.cluster.local.",
        "my_service.internal",
        "a-b.c-d",
        "1x.example",
        Label(63) + ".example",
        string.Join('.', Enumerable.Repeat(Label(63), 4)),  // 255 characters
    };

    [Theory]
    [MemberData(nameof(UsableHosts))]
    public void Usable_hosts_pass_in_both_forms(string host)
    {
        Assert.Equal(host, Assert.Single(Upstream($$$"""{"nodes": {"{{{host}}}:80": 1}}""").Upstream!.Nodes).Host);
        Assert.Equal(host, Assert.Single(Upstream($$"""{"nodes": [{"host": "{{host}}", "port": 80, "weight": 1}]}""").Upstream!.Nodes).Host);
    }

    [Theory]
    [InlineData("[::1]:80", "::1")]
    [InlineData("[2001:db8::1]:80", "2001:db8::1")]
    public void Bracketed_IPv6_in_the_map_form(string key, string host)
    {
        Assert.Equal(host, Assert.Single(Upstream($$$"""{"nodes": {"{{{key}}}": 1}}""").Upstream!.Nodes).Host);
    }

    [Theory]
    [InlineData("[abc]:80")]
    [InlineData("[1.2.3.4]:80")]
    [InlineData("::1:80")]
    public void Brackets_hold_an_IPv6_address_and_IPv6_needs_them_in_the_map_form(string key)
    {
        Assert.StartsWith("invalid node address", Assert.Single(Upstream($$$"""{"nodes": {"{{{key}}}": 1}}""").Errors).Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[abc]")]
    [InlineData("[1.2.3.4]")]
    public void Brackets_hold_an_IPv6_address_in_the_array_form(string host)
    {
        var error = Assert.Single(Upstream($$"""{"nodes": [{"host": "{{host}}", "port": 80, "weight": 1}]}""").Errors);
        Assert.StartsWith("property \"host\" validation failed: invalid host: ", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("connect", "1e16", "expected 1e+16 to be at most 2147483.647")]
    [InlineData("send", "1e300", "expected 1e+300 to be at most 2147483.647")]
    [InlineData("read", "2147484", "expected 2147484 to be at most 2147483.647")]
    public void Timeouts_that_overflow_a_millisecond_deadline_are_refused(string field, string value, string message)
    {
        var (_, errors) = Upstream($$$"""{"nodes": {"127.0.0.1:80": 1}, "timeout": {"{{{field}}}": {{{value}}} }}""");
        var error = Assert.Single(errors);
        Assert.Equal($"upstreams[0].timeout.{field}", error.Path);
        Assert.Equal($"property \"{field}\" validation failed: {message}", error.Message);
    }

    [Fact]
    public void The_largest_timeouts_build()
    {
        var (upstream, _) = Upstream("""{"nodes": {"127.0.0.1:80": 1}, "retry_timeout": 2147483.647, "timeout": {"connect": 2147483.647, "send": 2147483.647, "read": 0.001}}""");
        Assert.Equal(ResourceParser.MaxTimeoutSeconds, upstream!.Timeout.Connect);
        Assert.True(checked((long)(upstream.Timeout.Connect * 1000)) <= int.MaxValue);
    }

    [Fact]
    public void Retry_timeout_has_the_same_limit()
    {
        var error = Assert.Single(Upstream("""{"nodes": {"127.0.0.1:80": 1}, "retry_timeout": 1e16}""").Errors);
        Assert.Equal("property \"retry_timeout\" validation failed: expected 1e+16 to be at most 2147483.647", error.Message);
    }

    [Theory]
    [InlineData("1\n")]
    [InlineData("abc\n")]
    public void Ids_with_a_trailing_newline_are_refused(string id)
    {
        foreach (var field in (string[])["id", "upstream_id", "service_id"])
        {
            var body = new JsonObject { [field] = id };
            if (field == "id")
            {
                body["upstream_id"] = 1;
            }
            var errors = new List<ConfigError>();
            Assert.Null(ResourceParser.ParseStreamRoute(body, "", errors));
            Assert.True(errors.Count == 1, string.Join(" | ", errors));
            var error = errors[0];
            Assert.Equal(field, error.Path);
            Assert.Contains("failed to match pattern \"^[a-zA-Z0-9-_.]+$\"", error.Hint, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_node_key_with_a_trailing_newline_is_refused()
    {
        Assert.Single(Upstream("{\"nodes\": {\"redis\\n:80\": 1}}").Errors);
        Assert.Single(Upstream("{\"nodes\": [{\"host\": \"redis\\n\", \"port\": 80, \"weight\": 1}]}").Errors);
    }
}
