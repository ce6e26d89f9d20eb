using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using StreamGate.IntegrationTests.Infrastructure;
using StreamGate.IntegrationTests.Robustness;

namespace StreamGate.IntegrationTests.Admin;

/// <summary>
/// Issue 7, faults 4, 5 and 7, through the real gateway process: no admin API without a key, no admin settings
/// from anywhere but config.yaml, and the smaller holes (ids ending in a newline, huge chunk sizes, a viewer's HEAD).
/// </summary>
public sealed class AdminHardeningTests(AdminGatewayFixture fixture) : IClassFixture<AdminGatewayFixture>
{
    private const int TestTimeoutMs = 60_000;

    private AdminGateway Gateway => fixture.Gateway;

    private static string LoopbackConfig(string adminLines, int? adminPort = null) =>
        AdminStartupTests.TraditionalConfig(adminLines, "127.0.0.1", adminPort ?? Ports.GetFree());

    // Fault 4: a PUT without a key got 201 and nothing was logged.
    [Theory(Timeout = TestTimeoutMs)]
    [InlineData("    admin_key: [{name: admin, key: \"\", role: admin}]", "deployment.admin.admin_key[0].key", "is empty, which would let anyone in")]
    [InlineData("    admin_key: []", "deployment.admin.admin_key", "would run without a key")]
    [InlineData("", "deployment.admin.admin_key", "would run without a key")]
    public async Task An_admin_API_without_a_key_refuses_to_start_and_says_how_to_set_one(string adminKeyYaml, string path, string reason)
    {
        var (exit, output) = await GatewayProcess.RunToExitAsync(LoopbackConfig(adminKeyYaml), "", "run");
        Assert.True(exit == 1, $"exit {exit}; output:\n{output}");
        Assert.Contains(path, output, StringComparison.Ordinal);
        Assert.Contains(reason, output, StringComparison.Ordinal);
        Assert.Contains("openssl rand -hex 16", output, StringComparison.Ordinal);
        Assert.DoesNotContain("started with", output, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Admin_key_required_false_runs_without_a_key_and_says_so_at_start()
    {
        var adminPort = Ports.GetFree();
        await using var gateway = await GatewayProcess.StartAsync(LoopbackConfig("    admin_key_required: false", adminPort), "");
        Assert.Contains("runs without authentication (deployment.admin.admin_key_required: false)", gateway.Output, StringComparison.Ordinal);
        using var admin = new AdminHttp(adminPort, key: null);
        var put = await admin.PutAsync("/apisix/admin/upstreams/open", """{"nodes": {"127.0.0.1:1": 1}}""");
        Assert.True(put.Status == 201, put.ToString());
    }

    // Fault 5: an endpoint in appsettings.json bound an extra admin listener past the checks on admin_listen, and an
    // empty appsettings.json stopped the gateway from starting.
    [Theory(Timeout = TestTimeoutMs)]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Appsettings_files_environment_variables_and_urls_do_not_reconfigure_the_admin_server(bool emptyFiles)
    {
        using var folder = StoreGatewayFolder.Create();
        var extra = Enumerable.Range(0, 6).Select(_ => Ports.GetFree()).ToArray();
        string Url(int i) => $"http://127.0.0.1:{extra[i].ToString(CultureInfo.InvariantCulture)}";
        JsonObject Endpoint(string name, int i) => new() { ["Endpoints"] = new JsonObject { [name] = new JsonObject { ["Url"] = Url(i) } } };
        var settings = new JsonObject { ["urls"] = Url(0), ["Kestrel"] = Endpoint("Extra", 1), ["AllowedHosts"] = "nothing" };
        File.WriteAllText(Path.Combine(folder.Directory, "appsettings.json"), emptyFiles ? "" : settings.ToJsonString());
        var production = new JsonObject { ["Kestrel"] = Endpoint("Prod", 2) };
        File.WriteAllText(Path.Combine(folder.Directory, "appsettings.Production.json"), emptyFiles ? "" : production.ToJsonString());
        var environment = new Dictionary<string, string>
        {
            ["ASPNETCORE_URLS"] = Url(3),
            ["DOTNET_URLS"] = Url(4),
            ["ASPNETCORE_Kestrel__Endpoints__Env__Url"] = Url(5),
            ["ASPNETCORE_HTTP_PORTS"] = extra[5].ToString(CultureInfo.InvariantCulture),
        };
        await using var gateway = await GatewayProcess.StartInAsync(folder.Directory, environment);
        using var admin = AdminHttp.For(folder);
        Assert.Equal(200, (await admin.GetAsync("/apisix/admin/upstreams")).Status);
        foreach (var port in extra)
        {
            Assert.False(await AnswersAdminAsync(port, folder.AdminKey), $"the gateway answers the admin API on {port}, which only appsettings or the environment named; output:\n{gateway.Output}");
        }
    }

    /// <summary>Whether something on the port answers an admin GET with this key with 200 (a port nobody listens on does not).</summary>
    private static async Task<bool> AnswersAdminAsync(int port, string key)
    {
        using var admin = new AdminHttp(port, key, TimeSpan.FromSeconds(5));
        try
        {
            return (await admin.GetAsync("/apisix/admin/upstreams")).Status == 200;
        }
        catch (HttpRequestException)
        {
            return false;
        }
    }

    // Fault 7: "$" in the id pattern matched before a final newline.
    [Theory(Timeout = TestTimeoutMs)]
    [InlineData("upstreams/nl-1%0A", """{"nodes": {"127.0.0.1:1": 1}}""")]
    [InlineData("upstreams/nl-2%0D%0A", """{"nodes": {"127.0.0.1:1": 1}}""")]
    [InlineData("stream_routes/%0A", """{"upstream": {"nodes": {"127.0.0.1:1": 1}}}""")]
    public async Task Ids_ending_in_a_newline_are_refused(string path, string body)
    {
        var reply = await Gateway.PutAsync(path, body);
        Assert.True(reply.Status == HttpStatusCode.BadRequest, reply.ToString());
        Assert.StartsWith("invalid configuration: property \"id\" validation failed: failed to match pattern \"^[a-zA-Z0-9-_.]+$\" with \"", reply.ErrorMessage, StringComparison.Ordinal);
        Assert.Contains("\\n", reply.ErrorMessage, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task An_id_in_the_body_ending_in_a_newline_is_refused()
    {
        var reply = await Gateway.PutAsync("upstreams", "{\"id\": \"nl-body\\n\", \"nodes\": {\"127.0.0.1:1\": 1}}");
        Assert.True(reply.Status == HttpStatusCode.BadRequest, reply.ToString());
        Assert.Contains("validation failed", reply.ErrorMessage, StringComparison.Ordinal);
        var list = await Gateway.GetAsync("upstreams");
        Assert.DoesNotContain(list.Body!["list"]!.AsArray(), i => i!["key"]!.GetValue<string>().StartsWith("/apisix/upstreams/nl-body", StringComparison.Ordinal));
    }

    // Fault 7: a chunk size of 0x80000000 or more answered 500.
    [Theory(Timeout = TestTimeoutMs)]
    [InlineData("80000000")]
    [InlineData("FFFFFFFF")]
    [InlineData("FFFFFFFFFFFFFFFFFF")]
    public async Task A_huge_chunk_size_is_a_4xx_not_a_500(string chunkSize)
    {
        using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, Gateway.AdminPort);
        var request = $"PUT /apisix/admin/upstreams/chunky HTTP/1.1\r\nHost: 127.0.0.1\r\nX-API-KEY: {AdminGateway.AdminKey}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n{chunkSize}\r\n{{\"nodes\": {{\"127.0.0.1:1\": 1}}}}";
        await client.SendAsync(Encoding.ASCII.GetBytes(request), SocketFlags.None);
        var status = await ReadStatusLineAsync(client);
        Assert.Matches("^HTTP/1.1 4[0-9][0-9] ", status);
        Assert.Equal(HttpStatusCode.NotFound, (await Gateway.GetAsync("upstreams/chunky")).Status);
    }

    private static async Task<string> ReadStatusLineAsync(Socket client)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var received = new List<byte>();
        var buffer = new byte[1024];
        while (!received.Contains((byte)'\n'))
        {
            var n = await client.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
            if (n == 0)
            {
                break;
            }
            received.AddRange(buffer.AsSpan(0, n).ToArray());
        }
        var text = Encoding.ASCII.GetString([.. received]);
        var end = text.IndexOf('\r', StringComparison.Ordinal);
        return end < 0 ? text : text[..end] + " ";
    }

    // Fault 7: a viewer's HEAD was 401.
    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_viewer_may_HEAD_what_it_may_GET()
    {
        Assert.Equal(HttpStatusCode.Created, (await Gateway.PutAsync("upstreams/head-u", """{"nodes": {"127.0.0.1:1": 1}}""")).Status);
        var paths = new[]
        {
            ("upstreams", HttpStatusCode.OK), ("upstreams/head-u", HttpStatusCode.OK), ("upstreams/head-missing", HttpStatusCode.NotFound),
            ("plugins/list", HttpStatusCode.OK), ("schema/stream_route", HttpStatusCode.OK), ("plugin_metadata", HttpStatusCode.OK),
        };
        foreach (var (path, expected) in paths)
        {
            var head = await Gateway.SendAsync(HttpMethod.Head, path, key: AdminGateway.ViewerKey);
            Assert.True(head.Status == expected, $"HEAD {path}: {head}");
            Assert.Equal("", head.Text);
        }
        Assert.Equal(HttpStatusCode.Unauthorized, (await Gateway.SendAsync(HttpMethod.Head, "upstreams", key: null)).Status);
        Assert.Equal(HttpStatusCode.Unauthorized, (await Gateway.PutAsync("upstreams/head-u", """{"nodes": {"127.0.0.1:2": 1}}""", key: AdminGateway.ViewerKey)).Status);
    }
}
