using System.Net;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using StreamGate.IntegrationTests.Infrastructure;

namespace StreamGate.IntegrationTests;

/// <summary>
/// Health checks through the real gateway process: active probes that start with the configuration, a node taken out
/// when it dies and given connections again when it returns, passive checks alone taking out a refusing node until
/// recover_after, and the control API's /v1/healthcheck as APISIX answers it. Every wait polls the control API or a
/// listener, bounded; nothing sleeps to let a probe happen.
/// </summary>
public sealed class HealthCheckTests
{
    private const int TestTimeoutMs = 90_000;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private sealed record Gateway(GatewayProcess Process, int Port, int ControlPort) : IAsyncDisposable
    {
        public ValueTask DisposeAsync() => Process.DisposeAsync();
    }

    private static async Task<Gateway> StartAsync(string apisixYaml)
    {
        var port = Ports.GetFree();
        var control = Ports.GetFree();
        var config = $"""
            apisix:
              proxy_mode: stream
              stream_proxy:
                tcp:
                  - "127.0.0.1:{port}"
              control:
                ip: 127.0.0.1
                port: {control}
            deployment:
              role: data_plane
              role_data_plane:
                config_provider: yaml
            """;
        return new Gateway(await GatewayProcess.StartAsync(config, apisixYaml), port, control);
    }

    /// <summary>One route to upstream u1 of these nodes, with these checks (YAML under <c>checks:</c>).</summary>
    private static string Upstream(IEnumerable<string> nodes, string checks, string extra = "") => $"""
        stream_routes:
          - id: 1
            upstream_id: u1
        upstreams:
          - id: u1
            type: roundrobin
        {extra}
            nodes:
        {string.Concat(nodes.Select(n => $"      \"{n}\": 1\n"))}    checks:
        {checks}
        #END
        """;

    private const string ActiveTcp = """
              active:
                type: tcp
                timeout: 1
                healthy: {interval: 1, successes: 2}
                unhealthy: {interval: 1, tcp_failures: 2}
        """;

    private static async Task<(int Status, string Body)> GetAsync(int controlPort, string path)
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var response = await client.GetAsync($"http://127.0.0.1:{controlPort}{path}");
        return ((int)response.StatusCode, await response.Content.ReadAsStringAsync());
    }

    /// <summary>
    /// The status /v1/healthcheck/upstreams/u1 gives the node at <paramref name="node"/>, null when it lists no such
    /// node; with path /v1/healthcheck, "gone" once nothing is checked any more.
    /// </summary>
    private static async Task<string?> StatusAsync(int controlPort, string node, string path = "/v1/healthcheck/upstreams/u1")
    {
        var (_, body) = await GetAsync(controlPort, path);
        var answer = JsonNode.Parse(body)!;
        if (answer is JsonObject { Count: 0 })
        {
            return "gone";
        }
        var entries = answer is JsonArray list ? [.. list.Select(e => e!)] : new List<JsonNode> { answer };
        foreach (var item in entries.SelectMany(e => e["nodes"]!.AsArray()))
        {
            if ($"{item!["ip"]}:{item["port"]}" == node)
            {
                return item["status"]!.GetValue<string>();
            }
        }
        return null;
    }

    private static async Task WaitForStatusAsync(int controlPort, string node, string status, string path = "/v1/healthcheck/upstreams/u1")
    {
        var deadline = DateTime.UtcNow + Wait;
        string? last = null;
        while (DateTime.UtcNow < deadline)
        {
            last = await StatusAsync(controlPort, node, path);
            if (last == status)
            {
                return;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"{node} stayed {last ?? "absent"}, expected {status} within {Wait}");
    }

    private static async Task WaitUntilAsync(Func<bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{what} did not happen within {Wait}");
            }
            await Task.Delay(20);
        }
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Active_checks_probe_nodes_before_any_client_connects()
    {
        await using var backend = TestServer.Named("A");
        await using var gateway = await StartAsync(Upstream([backend.Node], ActiveTcp));
        // No client has connected: only probes reach the backend (APISIX would wait for a first connection).
        await WaitUntilAsync(() => backend.Accepted >= 2, "two probes");
        var (status, body) = await GetAsync(gateway.ControlPort, "/v1/healthcheck/upstreams/u1");
        Assert.Equal(200, status);
        Assert.Equal(
            $$"""{"name":"/upstreams/u1","nodes":[{"counter":{"http_failure":0,"success":0,"tcp_failure":0,"timeout_failure":0},"hostname":"127.0.0.1","ip":"127.0.0.1","port":{{backend.Port}},"status":"healthy"}],"type":"tcp"}""",
            body);
        (status, body) = await GetAsync(gateway.ControlPort, "/v1/healthcheck");
        Assert.Equal(200, status);
        Assert.Equal(
            $$"""[{"name":"/upstreams/u1","nodes":[{"counter":{"http_failure":0,"success":0,"tcp_failure":0,"timeout_failure":0},"hostname":"127.0.0.1","ip":"127.0.0.1","port":{{backend.Port}},"status":"healthy"}],"type":"tcp"}]""",
            body);
        Assert.Equal("A", await GatewayProcess.FirstLineAsync(gateway.Port));
        // The served object shows its checks with the defaults filled in, in APISIX's field names.
        (status, body) = await GetAsync(gateway.ControlPort, "/v1/upstreams");
        Assert.Equal(200, status);
        Assert.Contains("\"unhealthy\":{\"interval\":1,\"http_statuses\":[429,404,500,501,502,503,504,505],\"http_failures\":5,\"tcp_failures\":2,\"timeouts\":3}", body, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_killed_node_is_marked_unhealthy_gets_no_connections_and_is_used_again_when_it_returns()
    {
        await using var a = TestServer.Named("A");
        var b = TestServer.Named("B");
        var bPort = b.Port;
        // retries: 0: a connection sent to the dead node would fail instead of moving on to A, so it would be seen.
        await using var gateway = await StartAsync(Upstream([a.Node, b.Node], ActiveTcp, extra: "    retries: 0"));
        await WaitUntilAsync(() => b.Accepted >= 1, "a probe of B");
        await WaitForStatusAsync(gateway.ControlPort, b.Node, "healthy");

        await b.DisposeAsync();
        // tcp_failures 2 at interval 1: about two seconds; the wait allows far more.
        await WaitForStatusAsync(gateway.ControlPort, $"127.0.0.1:{bPort}", "unhealthy");
        var (_, body) = await GetAsync(gateway.ControlPort, "/v1/healthcheck");
        Assert.Contains($$"""{"counter":{"http_failure":0,"success":0,"tcp_failure":2,"timeout_failure":0},"hostname":"127.0.0.1","ip":"127.0.0.1","port":{{bPort}},"status":"unhealthy"}""", body, StringComparison.Ordinal);
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal("A", await GatewayProcess.FirstLineAsync(gateway.Port));
        }
        // Said once, not once per failed probe.
        await gateway.Process.WaitForOutputAsync($"127.0.0.1:{bPort} is unhealthy", Wait);
        Assert.Single(gateway.Process.Output.Split('\n'), l => l.Contains($"127.0.0.1:{bPort}", StringComparison.Ordinal));

        await using var back = TestServer.Named("B", port: bPort);
        await WaitForStatusAsync(gateway.ControlPort, back.Node, "healthy");
        await gateway.Process.WaitForOutputAsync($"127.0.0.1:{bPort} is healthy again", Wait);
        var served = new HashSet<string>();
        for (var i = 0; i < 10 && !served.Contains("B"); i++)
        {
            served.Add(await GatewayProcess.FirstLineAsync(gateway.Port));
        }
        Assert.Contains("B", served);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_node_whose_probes_fail_gets_no_connections_though_it_would_accept_them()
    {
        // Each node's probes go to checks.active.port on the node's address: A and B on two loopback addresses, the
        // probed port closed on B's. B's own port accepts all along, so any connection sent there would be counted.
        var probePort = Ports.GetFree();
        await using var a = TestServer.Named("A", IPAddress.Parse("127.0.0.1"));
        await using var b = TestServer.Named("B", IPAddress.Parse("127.0.0.2"));
        await using var aHealth = TestServer.Echo(IPAddress.Parse("127.0.0.1"), probePort);
        var checks = $$"""
                  active:
                    type: tcp
                    port: {{probePort}}
                    healthy: {interval: 1, successes: 1}
                    unhealthy: {interval: 1, tcp_failures: 1}
            """;
        await using var gateway = await StartAsync(Upstream([a.Node, b.Node], checks));
        await WaitForStatusAsync(gateway.ControlPort, $"127.0.0.2:{probePort}", "unhealthy");
        var (_, body) = await GetAsync(gateway.ControlPort, "/v1/healthcheck/upstreams/u1");
        Assert.Contains($"\"ip\":\"127.0.0.1\",\"port\":{probePort},\"status\":\"healthy\"", body, StringComparison.Ordinal);
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal("A", await GatewayProcess.FirstLineAsync(gateway.Port));
        }
        Assert.Equal(0, b.Accepted);

        await using var bHealth = TestServer.Echo(IPAddress.Parse("127.0.0.2"), probePort);
        await WaitForStatusAsync(gateway.ControlPort, $"127.0.0.2:{probePort}", "healthy");
        var served = new HashSet<string>();
        for (var i = 0; i < 10 && !served.Contains("B"); i++)
        {
            served.Add(await GatewayProcess.FirstLineAsync(gateway.Port));
        }
        Assert.Contains("B", served);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task When_every_node_is_unhealthy_connections_are_still_tried()
    {
        var probePort = Ports.GetFree();
        await using var a = TestServer.Named("A");
        var checks = $$"""
                  active:
                    type: tcp
                    port: {{probePort}}
                    healthy: {interval: 1}
                    unhealthy: {interval: 1, tcp_failures: 1}
            """;
        await using var gateway = await StartAsync(Upstream([a.Node], checks));
        await WaitForStatusAsync(gateway.ControlPort, $"127.0.0.1:{probePort}", "unhealthy");
        Assert.Equal("A", await GatewayProcess.FirstLineAsync(gateway.Port));
        Assert.Equal("unhealthy", await StatusAsync(gateway.ControlPort, $"127.0.0.1:{probePort}"));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Passive_checks_alone_take_out_a_refusing_node_and_recover_after_brings_it_back()
    {
        await using var a = TestServer.Named("A");
        using var reserved = Ports.ReserveClosed(out var closedPort);
        var checks = """
                  passive:
                    type: tcp
                    unhealthy: {tcp_failures: 2, recover_after: 5}
            """;
        // Default retries (nodes - 1): a connect to the refusing node moves on to A, so every client is served.
        await using var gateway = await StartAsync(Upstream([a.Node, $"127.0.0.1:{closedPort}"], checks));
        var closed = $"127.0.0.1:{closedPort}";
        Assert.Equal("healthy", await StatusAsync(gateway.ControlPort, closed));
        for (var i = 0; i < 10; i++)
        {
            Assert.Equal("A", await GatewayProcess.FirstLineAsync(gateway.Port));
        }
        // Round robin sent it some of the ten (each event loop balances on its own): its second refusal took it out.
        var (_, body) = await GetAsync(gateway.ControlPort, "/v1/healthcheck/upstreams/u1");
        Assert.Contains($$"""{"counter":{"http_failure":0,"success":0,"tcp_failure":2,"timeout_failure":0},"hostname":"127.0.0.1","ip":"127.0.0.1","port":{{closedPort}},"status":"unhealthy"}""", body, StringComparison.Ordinal);
        Assert.EndsWith("\"type\":\"tcp\"}", body, StringComparison.Ordinal);

        // Something listens there now; while the node is out, nothing is sent to it.
        reserved.Dispose();
        await using var c = TestServer.Named("C", port: closedPort);
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal("A", await GatewayProcess.FirstLineAsync(gateway.Port));
        }
        // recover_after is 5 s: still out after those six, so they were all sent while it was.
        Assert.Equal("unhealthy", await StatusAsync(gateway.ControlPort, closed));
        Assert.Equal(0, c.Accepted);

        // After recover_after it gets connections again.
        await WaitForStatusAsync(gateway.ControlPort, closed, "healthy");
        var served = new HashSet<string>();
        for (var i = 0; i < 10 && !served.Contains("C"); i++)
        {
            served.Add(await GatewayProcess.FirstLineAsync(gateway.Port));
        }
        Assert.Contains("C", served);
        Assert.True(c.Accepted >= 1);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Control_api_answers_as_apisix_for_inline_upstreams_and_unknown_ids()
    {
        await using var backend = TestServer.Named("A");
        var yaml = $$"""
            stream_routes:
              - id: 1
                upstream:
                  nodes: {"{{backend.Node}}": 1}
                  checks:
                    active:
                      type: tcp
                      host: probe.example
                      healthy: {interval: 1}
              - id: 2
                upstream_id: plain
              - id: 3
                service_id: s1
            upstreams:
              - id: plain
                nodes: {"{{backend.Node}}": 1}
            services:
              - id: s1
                upstream:
                  nodes: {"{{backend.Node}}": 1}
                  checks:
                    passive:
                      unhealthy: {tcp_failures: 1}
            #END
            """;
        await using var gateway = await StartAsync(yaml);
        var node = $$"""{"counter":{"http_failure":0,"success":0,"tcp_failure":0,"timeout_failure":0},"hostname":"probe.example","ip":"127.0.0.1","port":{{backend.Port}},"status":"healthy"}""";
        var passiveNode = $$"""{"counter":{"http_failure":0,"success":0,"tcp_failure":0,"timeout_failure":0},"hostname":"127.0.0.1","ip":"127.0.0.1","port":{{backend.Port}},"status":"healthy"}""";
        var route = $$"""{"name":"/stream_routes/1","nodes":[{{node}}],"type":"tcp"}""";
        var service = $$"""{"name":"/services/s1","nodes":[{{passiveNode}}],"type":"http"}""";

        Assert.Equal((200, route), await GetAsync(gateway.ControlPort, "/v1/healthcheck/stream_routes/1"));
        Assert.Equal((200, service), await GetAsync(gateway.ControlPort, "/v1/healthcheck/services/s1"));
        Assert.Equal((200, $"[{route},{service}]"), await GetAsync(gateway.ControlPort, "/v1/healthcheck"));
        Assert.Equal((404, """{"error_msg":"no checker for stream_routes[2]"}"""), await GetAsync(gateway.ControlPort, "/v1/healthcheck/stream_routes/2"));
        Assert.Equal((404, """{"error_msg":"no checker for upstreams[plain]"}"""), await GetAsync(gateway.ControlPort, "/v1/healthcheck/upstreams/plain"));
        Assert.Equal((404, """{"error_msg":"upstreams[9] not found"}"""), await GetAsync(gateway.ControlPort, "/v1/healthcheck/upstreams/9"));
        Assert.Equal((404, """{"error_msg":"routes[1] not found"}"""), await GetAsync(gateway.ControlPort, "/v1/healthcheck/routes/1"));
        Assert.Equal((400, """{"error_msg":"invalid src type route"}"""), await GetAsync(gateway.ControlPort, "/v1/healthcheck/route/1"));
        Assert.Equal((404, """{"error_msg":"missing src id for src type upstreams"}"""), await GetAsync(gateway.ControlPort, "/v1/healthcheck/upstreams"));

        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{gateway.ControlPort}/v1/healthcheck/stream_routes/1");
        request.Headers.Accept.ParseAdd("text/html");
        using var response = await client.SendAsync(request);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains($"<td>127.0.0.1:{backend.Port}</td>", html, StringComparison.Ordinal);
        Assert.Contains("<td>healthy</td>", html, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Without_checks_the_list_is_an_empty_object_as_apisix_writes_it()
    {
        await using var backend = TestServer.Named("A");
        await using var gateway = await StartAsync(Configs.SingleRoute(Configs.Node(backend.Node)));
        Assert.Equal((200, "{}"), await GetAsync(gateway.ControlPort, "/v1/healthcheck"));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Removing_the_upstream_stops_its_probes()
    {
        await using var backend = TestServer.Named("A");
        await using var gateway = await StartAsync(Upstream([backend.Node], ActiveTcp));
        await WaitUntilAsync(() => backend.Accepted >= 1, "a probe");
        gateway.Process.ReplaceStandalone($$"""
            stream_routes:
              - id: 1
                upstream:
                  nodes: {"{{backend.Node}}": 1}
            #END
            """);
        await WaitForStatusAsync(gateway.ControlPort, backend.Node, "gone", "/v1/healthcheck");
        // Probes every second until then; a probe already started may still land, none after it.
        var seen = backend.Accepted;
        var checks = (await GetAsync(gateway.ControlPort, "/v1/config")).Body;
        await WaitForSourceChecksAsync(gateway.ControlPort, JsonNode.Parse(checks)!["source_checks"]!.GetValue<long>() + 3);
        Assert.InRange(backend.Accepted, seen, seen + 1);
    }

    /// <summary>Waits until the file watcher has looked at apisix.yaml this many times (it polls every second).</summary>
    private static async Task WaitForSourceChecksAsync(int controlPort, long count)
    {
        var deadline = DateTime.UtcNow + Wait;
        while (DateTime.UtcNow < deadline)
        {
            var config = JsonNode.Parse((await GetAsync(controlPort, "/v1/config")).Body)!;
            if (config["source_checks"]!.GetValue<long>() >= count)
            {
                return;
            }
            await Task.Delay(50);
        }
        throw new TimeoutException($"the watcher did not look at the file {count} times within {Wait}");
    }
}
