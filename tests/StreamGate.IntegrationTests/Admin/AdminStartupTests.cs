using System.Net;
using StreamGate.IntegrationTests.Infrastructure;

namespace StreamGate.IntegrationTests.Admin;

/// <summary>What config.yaml decides about the admin API: exposure rules at start, and proxy_mode without stream.</summary>
public sealed class AdminStartupTests
{
    private const int TestTimeoutMs = 60_000;

    private static string ExposedConfig(string adminKeyYaml, int adminPort) =>
        TraditionalConfig(adminKeyYaml + "\n    allow_admin: [0.0.0.0/0]", "0.0.0.0", adminPort);

    /// <summary>A traditional node's config.yaml with these lines under deployment.admin (indented four spaces).</summary>
    internal static string TraditionalConfig(string adminLines, string listenIp, int adminPort) => $$"""
        apisix:
          proxy_mode: stream
          stream_proxy:
            tcp: ["127.0.0.1:{{Ports.GetFree()}}"]
          control: {ip: 127.0.0.1, port: {{Ports.GetFree()}}}
        deployment:
          role: traditional
          role_traditional: {config_provider: sqlite}
          admin:
            admin_listen: {ip: {{listenIp}}, port: {{adminPort}}}
        {{adminLines}}

        """;

    [Theory(Timeout = TestTimeoutMs)]
    [InlineData("", "without a key")]
    [InlineData("    admin_key: []", "without a key")]
    [InlineData("    admin_key: [{name: admin, key: \"\", role: admin}]", "without a key")]
    [InlineData("    admin_key: [{name: admin, key: edd1c9f034335f136f87ad84b625c8f1, role: admin}]", "sample key")]
    [InlineData("    admin_key:\n      - {name: admin, key: 3f9c2b7e51d04a86b1e2c4d6f8a0b3c5, role: admin}\n      - {name: viewer, key: edd1c9f034335f136f87ad84b625c8f1, role: viewer}", "sample key")]
    public async Task An_admin_API_beyond_loopback_needs_a_key_of_its_own(string adminKeyYaml, string reason)
    {
        var adminPort = Ports.GetFree();
        var config = ExposedConfig(adminKeyYaml, adminPort);
        var (exit, output) = await GatewayProcess.RunToExitAsync(config, null, "run");
        Assert.True(exit == 1, $"exit {exit}; output:\n{output}");
        Assert.Contains("deployment.admin.admin_key", output, StringComparison.Ordinal);
        Assert.Contains(reason, output, StringComparison.Ordinal);
        Assert.DoesNotContain("started with", output, StringComparison.Ordinal);

        var (validateExit, validateOutput) = await GatewayProcess.RunToExitAsync(config, null, "validate");
        Assert.Equal(1, validateExit);
        Assert.Contains("deployment.admin.admin_key", validateOutput, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Stream_routes_are_refused_when_proxy_mode_has_no_stream()
    {
        await using var gateway = await AdminGateway.StartAsync(new AdminGatewayOptions { ProxyMode = "http" });
        const string Message = "stream mode is disabled, can not add stream routes";
        var calls = new (HttpMethod Method, string Path, string? Body)[]
        {
            (HttpMethod.Get, "stream_routes", null),
            (HttpMethod.Get, "stream_routes/1", null),
            (HttpMethod.Put, "stream_routes/1", """{"upstream": {"nodes": {"127.0.0.1:1": 1}}}"""),
            (HttpMethod.Put, "stream_routes", """{"id": 1, "upstream": {"nodes": {"127.0.0.1:1": 1}}}"""),
            (HttpMethod.Post, "stream_routes", """{"upstream": {"nodes": {"127.0.0.1:1": 1}}}"""),
            (HttpMethod.Patch, "stream_routes/1", """{"name": "x"}"""),
            (HttpMethod.Delete, "stream_routes/1", null),
        };
        foreach (var (method, path, body) in calls)
        {
            var response = await gateway.SendAsync(method, path, body);
            Assert.True(response.Status == HttpStatusCode.BadRequest, $"{method} {path}: {response}");
            Assert.Equal($$"""{"error_msg":"{{Message}}"}""", response.Text);
        }
        // Auth still comes first, and the other resources still work.
        Assert.Equal(HttpStatusCode.Unauthorized, (await gateway.GetAsync("stream_routes", key: null)).Status);
        Assert.Equal(HttpStatusCode.Created, (await gateway.PutAsync("upstreams/1", """{"nodes": {"127.0.0.1:1": 1}}""")).Status);
        Assert.Equal(HttpStatusCode.OK, (await gateway.GetAsync("upstreams/1")).Status);
    }
}
