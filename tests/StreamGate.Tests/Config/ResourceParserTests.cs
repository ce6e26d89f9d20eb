using System.Text.Json.Nodes;
using StreamGate.Config;

namespace StreamGate.Tests.Config;

public class ResourceParserTests
{
    private const string Nodes = "\"nodes\": {\"127.0.0.1:1980\": 1}";

    private static (StreamRouteConfig? Route, List<ConfigError> Errors) Route(string json)
    {
        var errors = new List<ConfigError>();
        var route = ResourceParser.ParseStreamRoute(JsonNode.Parse(json)!.AsObject(), "stream_routes[0]", errors);
        Assert.Equal(route is null, errors.Count > 0);
        return (route, errors);
    }

    private static (UpstreamConfig? Upstream, List<ConfigError> Errors) Upstream(string json)
    {
        var errors = new List<ConfigError>();
        var upstream = ResourceParser.ParseUpstream(JsonNode.Parse(json)!.AsObject(), "upstreams[0]", errors);
        Assert.Equal(upstream is null, errors.Count > 0);
        return (upstream, errors);
    }

    private static (ServiceConfig? Service, List<ConfigError> Errors) Service(string json)
    {
        var errors = new List<ConfigError>();
        var service = ResourceParser.ParseService(JsonNode.Parse(json)!.AsObject(), "services[0]", errors);
        Assert.Equal(service is null, errors.Count > 0);
        return (service, errors);
    }

    private static List<ConfigError> RouteErrors(string json)
    {
        var (route, errors) = Route(json);
        Assert.Null(route);
        return errors;
    }

    private static List<ConfigError> UpstreamErrors(string json)
    {
        var (upstream, errors) = Upstream(json);
        Assert.Null(upstream);
        return errors;
    }

    // ---- stream_route ----

    [Fact]
    public void FullStreamRoute()
    {
        var (route, _) = Route("""
            {"id": "r-1_a.b", "name": "db", "desc": "to the database", "labels": {"env": "prod"},
             "remote_addr": "10.0.0.0/8", "server_addr": "::1", "server_port": 9100,
             "upstream": {"nodes": {"127.0.0.1:5432": 1}},
             "create_time": 1, "update_time": 2}
            """);
        Assert.NotNull(route);
        Assert.Equal("r-1_a.b", route.Id);
        Assert.Equal("db", route.Name);
        Assert.Equal("to the database", route.Desc);
        Assert.Equal("prod", route.Labels!["env"]);
        Assert.Equal("10.0.0.0/8", route.RemoteAddr);
        Assert.Equal("::1", route.ServerAddr);
        Assert.Equal(9100, route.ServerPort);
        Assert.Equal(new NodeConfig("127.0.0.1", 5432, 1, 0), Assert.Single(route.Upstream!.Nodes));
        Assert.Null(route.UpstreamId);
        Assert.Null(route.ServiceId);
    }

    [Fact]
    public void IntegerIdsBecomeStrings()
    {
        var (route, _) = Route("""{"id": 12, "upstream_id": 3, "service_id": 4}""");
        Assert.Equal("12", route!.Id);
        Assert.Equal("3", route.UpstreamId);
        Assert.Equal("4", route.ServiceId);
    }

    [Fact]
    public void RouteWithoutIdParsesWithEmptyId()
    {
        Assert.Equal("", Route("""{"upstream_id": 1}""").Route!.Id);
    }

    [Theory]
    [InlineData("\"a b\"", "failed to match pattern")]
    [InlineData("\"\"", "string too short, expected at least 1, got 0")]
    [InlineData("0", "expected 0 to be at least 1")]
    [InlineData("true", "wrong type: expected string or integer, got boolean")]
    [InlineData("\"r/1\"", "failed to match pattern")]
    [InlineData("\"1\\n\"", "failed to match pattern \"^[a-zA-Z0-9-_.]+$\" with \"1\n\"")]
    public void IdIsValidated(string value, string hint)
    {
        // APISIX's id_schema is an anyOf: every failure is its one message (services.t TEST 11, 12); ours is the hint.
        var error = ConfigAssert.Single(RouteErrors($$"""{"id": {{value}}, "upstream_id": 1}"""), "stream_routes[0].id", "object matches none of the required");
        Assert.Equal("property \"id\" validation failed: object matches none of the required", error.Message);
        Assert.Contains(hint, error.Hint, StringComparison.Ordinal);
    }

    [Fact]
    public void IdLongerThan64IsRefused()
    {
        var id = new string('a', 65);
        var error = ConfigAssert.Single(RouteErrors($$"""{"id": "{{id}}", "upstream_id": 1}"""), "stream_routes[0].id", "object matches none of the required");
        Assert.Contains("string too long, expected at most 64, got 65", error.Hint, StringComparison.Ordinal);
        Assert.Equal(new string('a', 64), Route($$"""{"id": "{{new string('a', 64)}}", "upstream_id": 1}""").Route!.Id);
    }

    [Theory]
    [InlineData("\"upstream_id\": 1, \"foo\": 1", "stream_routes[0].foo", "additional properties forbidden, found foo")]
    [InlineData("\"upstream_id\": 1, \"plugins\": {\"x\": {}}", "stream_routes[0].plugins.x", "unknown plugin [x]")]
    [InlineData("\"upstream_id\": 1, \"remote_addr\": 10", "stream_routes[0].remote_addr", "property \"remote_addr\" validation failed: wrong type: expected string, got number")]
    [InlineData("\"upstream_id\": 1, \"sni\": \"a.com\"", "stream_routes[0].sni", "TLS routing is not available")]
    [InlineData("\"upstream_id\": 1, \"snis\": [\"a.com\"]", "stream_routes[0].snis", "TLS routing is not available")]
    [InlineData("\"upstream_id\": 1, \"tls_passthrough\": true", "stream_routes[0].tls_passthrough", "TLS routing is not available")]
    [InlineData("\"upstream_id\": 1, \"upstream\": {\"nodes\": {\"127.0.0.1:80\": 1}}", "stream_routes[0]", "set either upstream or upstream_id, not both")]
    [InlineData("\"server_port\": 9100", "stream_routes[0]", "the route has nowhere to send connections: set upstream, upstream_id or service_id")]
    [InlineData("\"upstream\": {\"nodes\": {\"127.0.0.1:80\": 1}, \"retries\": -1}", "stream_routes[0].upstream.retries", "expected -1 to be at least 0")]
    [InlineData("\"upstream\": {}", "stream_routes[0].upstream.nodes", "property \"nodes\" is required")]
    [InlineData("\"upstream_id\": 1, \"name\": \"\"", "stream_routes[0].name", "string too short")]
    [InlineData("\"upstream_id\": 1, \"desc\": 5", "stream_routes[0].desc", "wrong type: expected string, got number")]
    [InlineData("\"upstream_id\": 1, \"labels\": {\"a\": 1}", "stream_routes[0].labels", "property \"labels\" validation failed: failed to validate a (matching \".*\"): wrong type: expected string, got number")]
    [InlineData("\"upstream_id\": 1, \"labels\": [1]", "stream_routes[0].labels", "wrong type: expected object, got array")]
    [InlineData("\"upstream_id\": 1, \"upstream\": 5", "stream_routes[0].upstream", "wrong type: expected object, got number")]
    [InlineData("\"upstream_id\": 1, \"plugins\": []", "stream_routes[0].plugins", "wrong type: expected object, got array")]
    [InlineData("\"service_id\": \"a/b\"", "stream_routes[0].service_id", "property \"service_id\" validation failed: object matches none of the required")]
    [InlineData("\"upstream_id\": 1, \"server_port\": 70000", "stream_routes[0].server_port", "property \"server_port\" validation failed: expected 70000 to be at most 65535")]
    [InlineData("\"upstream_id\": 1, \"server_port\": 0", "stream_routes[0].server_port", "property \"server_port\" validation failed: expected 0 to be at least 1")]
    [InlineData("\"upstream_id\": 1, \"server_port\": \"9100\"", "stream_routes[0].server_port", "property \"server_port\" validation failed: wrong type: expected integer, got string")]
    [InlineData("\"upstream_id\": 1, \"server_port\": 1.5", "stream_routes[0].server_port", "wrong type: expected integer, got number")]
    [InlineData("\"upstream_id\": 1, \"remote_addr\": \":/8\"", "stream_routes[0].remote_addr", "invalid remote_addr: :/8")]
    [InlineData("\"upstream_id\": 1, \"remote_addr\": \"10.0.0.0/33\"", "stream_routes[0].remote_addr", "invalid remote_addr: 10.0.0.0/33")]
    [InlineData("\"upstream_id\": 1, \"remote_addr\": \"10/8\"", "stream_routes[0].remote_addr", "invalid remote_addr: 10/8")]
    [InlineData("\"upstream_id\": 1, \"remote_addr\": \"localhost\"", "stream_routes[0].remote_addr", "invalid remote_addr: localhost")]
    [InlineData("\"upstream_id\": 1, \"remote_addr\": \"\"", "stream_routes[0].remote_addr", "invalid remote_addr: ")]
    [InlineData("\"upstream_id\": 1, \"server_addr\": \"fe80::/129\"", "stream_routes[0].server_addr", "invalid server_addr: fe80::/129")]
    [InlineData("\"upstream_id\": 1, \"server_addr\": \"1.2.3.256\"", "stream_routes[0].server_addr", "invalid server_addr: 1.2.3.256")]
    [InlineData("\"upstream_id\": 1, \"server_addr\": \"[::1]\"", "stream_routes[0].server_addr", "invalid server_addr: [::1]")]
    public void InvalidRoutesAreErrors(string fields, string path, string message)
    {
        var errors = RouteErrors("{\"id\": 1, " + fields + "}");
        ConfigAssert.Single(errors, path, message);
        Assert.Single(errors);
    }

    [Fact]
    public void EmptyPluginsAreAccepted()
    {
        Assert.Empty(Route("""{"id": 1, "upstream_id": 1, "plugins": {}}""").Route!.Plugins!);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("0.0.0.0/0")]
    [InlineData("192.168.1.0/24")]
    [InlineData("::1")]
    [InlineData("fe80::/10")]
    [InlineData("::ffff:10.0.0.1")]
    public void ValidAddressesAreKeptAsWritten(string value)
    {
        var (route, _) = Route($$"""{"id": 1, "upstream_id": 1, "remote_addr": "{{value}}", "server_addr": "{{value}}"}""");
        Assert.Equal(value, route!.RemoteAddr);
        Assert.Equal(value, route.ServerAddr);
    }

    [Fact]
    public void EveryRouteErrorIsCollected()
    {
        var errors = RouteErrors("""{"id": "a b", "server_port": 70000, "remote_addr": ":/8", "foo": 1, "upstream_id": 1}""");
        Assert.Equal(4, errors.Count);
        Assert.Equal(
            ["stream_routes[0].id", "stream_routes[0].remote_addr", "stream_routes[0].server_port", "stream_routes[0].foo"],
            errors.Select(e => e.Path));
    }

    // ---- upstream ----

    [Fact]
    public void UpstreamDefaults()
    {
        var (upstream, _) = Upstream($$"""{ {{Nodes}} }""");
        Assert.NotNull(upstream);
        Assert.Null(upstream.Id);
        Assert.Equal("roundrobin", upstream.Type);
        Assert.Equal("tcp", upstream.Scheme);
        Assert.Null(upstream.Retries);
        Assert.Equal(0.0, upstream.RetryTimeout);
        Assert.Equal(TimeoutConfig.Default, upstream.Timeout);
        Assert.Equal(600, upstream.Timeout.Idle);
    }

    [Fact]
    public void NodesAsMapWithIPv6InBrackets()
    {
        var (upstream, _) = Upstream("""{"nodes": {"127.0.0.1:80": 3, "[::1]:81": 0, "backend.local:82": 1}}""");
        Assert.Equal(
            [new NodeConfig("127.0.0.1", 80, 3, 0), new NodeConfig("::1", 81, 0, 0), new NodeConfig("backend.local", 82, 1, 0)],
            upstream!.Nodes);
    }

    [Fact]
    public void NodesAsArrayWithPriorities()
    {
        var (upstream, _) = Upstream("""
            {"nodes": [
              {"host": "127.0.0.1", "port": 80, "weight": 5, "priority": 1},
              {"host": "[::1]", "port": 81, "weight": 1},
              {"host": "[::2]", "port": 82, "weight": 0, "priority": -1, "metadata": {"zone": "a"}}
            ]}
            """);
        Assert.Equal(
            [new NodeConfig("127.0.0.1", 80, 5, 1), new NodeConfig("::1", 81, 1, 0), new NodeConfig("::2", 82, 0, -1)],
            upstream!.Nodes);
    }

    [Fact]
    public void EmptyNodeMapIsAccepted()
    {
        Assert.Empty(Upstream("""{"nodes": {}}""").Upstream!.Nodes);
    }

    [Theory]
    [InlineData("\"type\": \"roundrobin\"", "upstreams[0].nodes", "property \"nodes\" is required")]
    [InlineData("\"nodes\": {\"::1:80\": 1}", "upstreams[0].nodes[\"::1:80\"]", "invalid node address \"::1:80\"; write host:port, with IPv6 in brackets ([::1]:6379)")]
    [InlineData("\"nodes\": {\"127.0.0.1\": 1}", "upstreams[0].nodes[\"127.0.0.1\"]", "invalid node address \"127.0.0.1\"")]
    [InlineData("\"nodes\": {\"127.0.0.1:0\": 1}", "upstreams[0].nodes[\"127.0.0.1:0\"]", "invalid node address")]
    [InlineData("\"nodes\": {\"127.0.0.1:65536\": 1}", "upstreams[0].nodes[\"127.0.0.1:65536\"]", "invalid node address")]
    [InlineData("\"nodes\": {\"127.0.0.1:http\": 1}", "upstreams[0].nodes[\"127.0.0.1:http\"]", "invalid node address")]
    [InlineData("\"nodes\": {\"[::1]80\": 1}", "upstreams[0].nodes[\"[::1]80\"]", "invalid node address")]
    [InlineData("\"nodes\": {\"[::1]:\": 1}", "upstreams[0].nodes[\"[::1]:\"]", "invalid node address")]
    [InlineData("\"nodes\": {\":80\": 1}", "upstreams[0].nodes[\":80\"]", "invalid node address")]
    [InlineData("\"nodes\": {\"bad host:80\": 1}", "upstreams[0].nodes[\"bad host:80\"]", "invalid node address")]
    [InlineData(Nodes + ", \"type\": \"chash\"", "upstreams[0].type", "balancer \"chash\" is not available")]
    [InlineData(Nodes + ", \"type\": \"least_conn\"", "upstreams[0].type", "balancer \"least_conn\" is not available")]
    [InlineData(Nodes + ", \"type\": \"ewma\"", "upstreams[0].type", "balancer \"ewma\" is not available")]
    [InlineData(Nodes + ", \"type\": \"random\"", "upstreams[0].type", "property \"type\" validation failed: matches none of the enum values")]
    [InlineData(Nodes + ", \"scheme\": \"tls\"", "upstreams[0].scheme", "scheme \"tls\" is not available")]
    [InlineData(Nodes + ", \"scheme\": \"udp\"", "upstreams[0].scheme", "scheme \"udp\" is not available")]
    [InlineData(Nodes + ", \"scheme\": \"ftp\"", "upstreams[0].scheme", "matches none of the enum values")]
    [InlineData(Nodes + ", \"tls\": {\"verify\": true}", "upstreams[0].tls", "not available in this StreamGate version yet")]
    [InlineData(Nodes + ", \"discovery_type\": \"dns\"", "upstreams[0].discovery_type", "not available in this StreamGate version yet")]
    [InlineData(Nodes + ", \"hash_on\": \"ip\"", "upstreams[0].hash_on", "matches none of the enum values")]
    [InlineData(Nodes + ", \"retries\": -1", "upstreams[0].retries", "property \"retries\" validation failed: expected -1 to be at least 0")]
    [InlineData(Nodes + ", \"retries\": \"2\"", "upstreams[0].retries", "wrong type: expected integer, got string")]
    [InlineData(Nodes + ", \"retry_timeout\": -1", "upstreams[0].retry_timeout", "property \"retry_timeout\" validation failed: expected -1 to be at least 0")]
    [InlineData(Nodes + ", \"timeout\": {\"connect\": 0}", "upstreams[0].timeout.connect", "property \"connect\" validation failed: expected 0 to be greater than 0")]
    [InlineData(Nodes + ", \"timeout\": {\"read\": -1}", "upstreams[0].timeout.read", "expected -1 to be greater than 0")]
    [InlineData(Nodes + ", \"timeout\": {\"send\": \"1s\"}", "upstreams[0].timeout.send", "wrong type: expected number, got string")]
    [InlineData(Nodes + ", \"timeout\": {\"idle\": 1}", "upstreams[0].timeout.idle", "additional properties forbidden, found idle")]
    [InlineData(Nodes + ", \"timeout\": 5", "upstreams[0].timeout", "wrong type: expected object, got number")]
    [InlineData(Nodes + ", \"bogus\": 1", "upstreams[0].bogus", "additional properties forbidden, found bogus")]
    [InlineData(Nodes + ", \"id\": \"\"", "upstreams[0].id", "property \"id\" validation failed: object matches none of the required")]
    public void InvalidUpstreamsAreErrors(string fields, string path, string message)
    {
        var errors = UpstreamErrors("{" + fields + "}");
        ConfigAssert.Single(errors, path, message);
        Assert.Single(errors);
    }

    /// <summary>
    /// A node that fails either form of nodes answers APISIX's one anyOf message (upstream.t TEST 14, 15;
    /// upstream-array-nodes.t TEST 10 to 13); the hint names the node and what is wrong with it.
    /// </summary>
    [Theory]
    [InlineData("\"nodes\": \"127.0.0.1:80\"", "", "wrong type: expected object or array, got string")]
    [InlineData("\"nodes\": {\"127.0.0.1:80\": -1}", "nodes[\"127.0.0.1:80\"]: ", "the weight must be an integer of at least 0")]
    [InlineData("\"nodes\": {\"127.0.0.1:80\": \"1\"}", "nodes[\"127.0.0.1:80\"]: ", "the weight must be an integer of at least 0")]
    [InlineData("\"nodes\": {\"127.0.0.1:80\": 1.5}", "nodes[\"127.0.0.1:80\"]: ", "the weight must be an integer of at least 0")]
    [InlineData("\"nodes\": {\"127.0.0.1:80\": null}", "nodes[\"127.0.0.1:80\"]: ", "the weight must be an integer of at least 0")]
    [InlineData("\"nodes\": {\"127.0.0.1:80\": 4294967296}", "nodes[\"127.0.0.1:80\"]: ", "the weight must be an integer of at least 0")]
    [InlineData("\"nodes\": [{\"port\": 80, \"weight\": 1}]", "nodes[0].host: ", "property \"host\" is required")]
    [InlineData("\"nodes\": [{\"host\": \"a\", \"weight\": 1}]", "nodes[0].port: ", "property \"port\" is required")]
    [InlineData("\"nodes\": [{\"host\": \"a\", \"port\": 80}]", "nodes[0].weight: ", "property \"weight\" is required")]
    [InlineData("\"nodes\": [{\"host\": \"a\", \"port\": 0, \"weight\": 1}]", "nodes[0].port: ", "expected 0 to be at least 1")]
    [InlineData("\"nodes\": [{\"host\": \"a\", \"port\": 80, \"weight\": -1}]", "nodes[0].weight: ", "expected -1 to be at least 0")]
    [InlineData("\"nodes\": [{\"host\": \"a b\", \"port\": 80, \"weight\": 1}]", "nodes[0].host: ", "failed to match pattern")]
    [InlineData("\"nodes\": [{\"host\": \"a\", \"port\": 80, \"weight\": 1, \"priority\": \"high\"}]", "nodes[0].priority: ", "wrong type: expected integer, got string")]
    [InlineData("\"nodes\": [{\"host\": \"a\", \"port\": 80, \"weight\": 1, \"zone\": 1}]", "nodes[0].zone: ", "additional properties forbidden, found zone")]
    [InlineData("\"nodes\": [5]", "nodes[0]: ", "failed to validate item 1: wrong type: expected object, got number")]
    [InlineData("\"nodes\": [{\"host\": \"a\", \"port\": 1, \"weight\": 1}, {\"host\": \"b\", \"weight\": 1}]", "nodes[1].port: ", "property \"port\" is required")]
    public void InvalidNodesAnswerTheAnyOfWithTheNodeInTheHint(string fields, string where, string message)
    {
        var errors = UpstreamErrors("{" + fields + "}");
        var error = ConfigAssert.Single(errors, "upstreams[0].nodes", "object matches none of the required");
        Assert.EndsWith("object matches none of the required", error.Message, StringComparison.Ordinal);
        Assert.Contains(where + message, error.Hint, StringComparison.Ordinal);
        Assert.Single(errors);
    }

    [Fact]
    public void HttpOnlyUpstreamKnobsAreAccepted()
    {
        var (upstream, _) = Upstream($$"""{ {{Nodes}}, "pass_host": "node", "upstream_host": "x", "keepalive_pool": {}, "hash_on": "vars", "key": "remote_addr"}""");
        Assert.Equal("vars", upstream!.HashOn);
        Assert.Equal("remote_addr", upstream.Key);
    }

    [Fact]
    public void RetriesTimeoutsAndNames()
    {
        var (upstream, _) = Upstream($$"""
            { {{Nodes}}, "id": "u1", "name": "db", "retries": 2, "retry_timeout": 1.5,
              "timeout": {"connect": 0.5, "send": 3, "read": 7} }
            """);
        Assert.Equal("u1", upstream!.Id);
        Assert.Equal("db", upstream.Name);
        Assert.Equal(2, upstream.Retries);
        Assert.Equal(1.5, upstream.RetryTimeout);
        Assert.Equal(new TimeoutConfig(0.5, 3, 7), upstream.Timeout);
        Assert.Equal(7, upstream.Timeout.Idle);
    }

    [Fact]
    public void MissingTimeoutFieldsKeepDefaults()
    {
        var (upstream, _) = Upstream($$"""{ {{Nodes}}, "timeout": {"connect": 2} }""");
        Assert.Equal(new TimeoutConfig(2, 600, 600), upstream!.Timeout);
    }

    // ---- service ----

    [Fact]
    public void ServiceWithInlineUpstream()
    {
        var (service, _) = Service($$"""{"id": "s1", "name": "svc", "type": "stream", "upstream": { {{Nodes}} } }""");
        Assert.Equal("s1", service!.Id);
        Assert.Equal("svc", service.Name);
        Assert.Equal(1980, Assert.Single(service.Upstream!.Nodes).Port);
        Assert.Null(service.UpstreamId);
    }

    [Fact]
    public void ServiceWithoutUpstreamIsAccepted()
    {
        var (service, _) = Service("""{"id": 5}""");
        Assert.Equal("5", service!.Id);
        Assert.Null(service.Upstream);
        Assert.Null(service.UpstreamId);
    }

    [Theory]
    [InlineData($$"""{"id": 1, "upstream_id": 1, "upstream": { {{Nodes}} } }""", "services[0]", "set either upstream or upstream_id, not both")]
    [InlineData("""{"id": 1, "server_port": 1}""", "services[0].server_port", "additional properties forbidden, found server_port")]
    [InlineData("""{"id": 1, "plugins": {"limit-conn": {}}}""", "services[0].plugins.limit-conn", "unknown plugin [limit-conn]")]
    [InlineData("""{"id": 1, "upstream": {"nodes": {"x": 1}}}""", "services[0].upstream.nodes[\"x\"]", "invalid node address")]
    [InlineData("""{"id": 1, "upstream_id": false}""", "services[0].upstream_id", "property \"upstream_id\" validation failed: object matches none of the required")]
    public void InvalidServicesAreErrors(string json, string path, string message)
    {
        var (service, errors) = Service(json);
        Assert.Null(service);
        ConfigAssert.Single(errors, path, message);
    }

    // ---- host:port parsing ----

    [Theory]
    [InlineData("127.0.0.1:80", "127.0.0.1", 80)]
    [InlineData("[::1]:6379", "::1", 6379)]
    [InlineData("[2001:db8::1]:65535", "2001:db8::1", 65535)]
    [InlineData("redis.svc:6379", "redis.svc", 6379)]
    public void TryParseHostPortValid(string text, string host, int port)
    {
        Assert.True(ResourceParser.TryParseHostPort(text, out var parsedHost, out var parsedPort));
        Assert.Equal(host, parsedHost);
        Assert.Equal(port, parsedPort);
    }
}
