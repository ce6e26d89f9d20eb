using System.Net;
using System.Net.Sockets;
using StreamGate.IntegrationTests.Infrastructure;

namespace StreamGate.IntegrationTests;

/// <summary>Hot reload of apisix.yaml, graceful shutdown, and configuration that must be refused.</summary>
public sealed class LifecycleTests
{
    private const int TestTimeoutMs = 60_000;
    private static readonly TimeSpan ReloadTimeout = TimeSpan.FromSeconds(15);

    private static string RouteTo(TestServer server) => $$"""
        stream_routes:
          - id: 1
            upstream:
              nodes: {"{{server.Node}}": 1}
        #END
        """;

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Reload_applies_a_valid_file_and_keeps_the_last_good_one_otherwise()
    {
        await using var a = TestServer.Named("A");
        await using var b = TestServer.Named("B");
        var port = Ports.GetFree();
        await using var gateway = await GatewayProcess.StartAsync(Configs.Gateway(port), RouteTo(a));
        using var before = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
        Assert.Equal("A\n", await before.ReceiveTextAsync(2));

        gateway.ReplaceStandalone(RouteTo(b));
        await gateway.WaitForOutputAsync("(version 2)", ReloadTimeout);
        Assert.Equal("B", await GatewayProcess.FirstLineAsync(port));
        // The connection opened before the reload keeps its route and upstream.
        await before.SendTextAsync("old");
        Assert.Equal("old", await before.ReceiveTextAsync(3));

        gateway.ReplaceStandalone(RouteTo(a).Replace("id: 1", "id: 1\n    server_port: 70000", StringComparison.Ordinal));
        await gateway.WaitForOutputAsync("Rejected", ReloadTimeout);
        Assert.Contains("property \"server_port\" validation failed: expected 70000 to be at most 65535", gateway.Output, StringComparison.Ordinal);
        Assert.Equal("B", await GatewayProcess.FirstLineAsync(port));

        // A writer caught half-way: no #END yet.
        await File.WriteAllTextAsync(gateway.StandalonePath, RouteTo(a).Replace("#END", "", StringComparison.Ordinal));
        await gateway.WaitForOutputAsync("Rejected", ReloadTimeout, occurrences: 2);
        Assert.Contains("does not end with the line #END", gateway.Output, StringComparison.Ordinal);
        Assert.Equal("B", await GatewayProcess.FirstLineAsync(port));

        // Finishing the file applies it.
        await File.AppendAllTextAsync(gateway.StandalonePath, "#END\n");
        await gateway.WaitForOutputAsync("(version 3)", ReloadTimeout);
        Assert.Equal("A", await GatewayProcess.FirstLineAsync(port));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Shutdown_stops_accepting_and_lets_open_connections_finish()
    {
        await using var upstream = TestServer.Echo();
        var port = Ports.GetFree();
        await using var gateway = await GatewayProcess.StartAsync(Configs.Gateway(port), Configs.SingleRoute(Configs.Node(upstream.Node)));
        using var open = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
        await open.SendTextAsync("one");
        Assert.Equal("one", await open.ReceiveTextAsync(3));

        gateway.Terminate();
        await gateway.WaitForOutputAsync("Stopped accepting", TimeSpan.FromSeconds(15));
        await AssertRefusedAsync(port);

        await open.SendTextAsync("two");
        Assert.Equal("two", await open.ReceiveTextAsync(3));
        open.Shutdown(SocketShutdown.Send);
        Assert.Empty(await open.ReceiveToEndAsync());
        Assert.Equal(0, await gateway.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("Stopped", gateway.Output, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Shutdown_closes_connections_left_open_after_the_grace_period()
    {
        await using var upstream = TestServer.Echo();
        var port = Ports.GetFree();
        var config = Configs.Gateway(port, "nginx_config:\n  worker_shutdown_timeout: 1s");
        await using var gateway = await GatewayProcess.StartAsync(config, Configs.SingleRoute(Configs.Node(upstream.Node)));
        using var open = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
        await open.SendTextAsync("one");
        Assert.Equal("one", await open.ReceiveTextAsync(3));
        gateway.Terminate();
        Assert.Equal(ConnectionEnd.Closed, await open.WaitForEndAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal(0, await gateway.WaitForExitAsync(TimeSpan.FromSeconds(20)));
        Assert.Contains("Grace period over; closing 1 connections", gateway.Output, StringComparison.Ordinal);
    }

    private static async Task AssertRefusedAsync(int port)
    {
        // Listener sockets close on the loop threads right after the signal; give them a bounded moment.
        for (var i = 0; i < 50; i++)
        {
            try
            {
                using var probe = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
            }
            catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
            {
                return;
            }
            await Task.Delay(100);
        }
        Assert.Fail("the gateway still accepts connections after SIGTERM");
    }

    public static TheoryData<string, string, string> BadConfigs => new()
    {
        {
            "apisix:\n  proxy_mode: stream\n  stream_proxy:\n    tcp: [\"abc\"]\ndeployment: {role: data_plane, role_data_plane: {config_provider: yaml}}\n",
            "stream_routes: []\n#END\n",
            "apisix.stream_proxy.tcp[0]: invalid stream_proxy.tcp entry \"abc\""
        },
        {
            "apisix:\n  proxy_mode: stream\n  stream_proxy:\n    tcp: [{addr: 9100, color: red}]\ndeployment: {role: data_plane, role_data_plane: {config_provider: yaml}}\n",
            "stream_routes: []\n#END\n",
            "apisix.stream_proxy.tcp[0].color: additional properties forbidden, found color"
        },
        {
            "apisix:\n  proxy_mode: stream\n  stream_proxy:\n    tcp: [9100]\ndeployment: {role: data_plane, role_data_plane: {config_provider: yaml}}\nfoo: 1\n",
            "stream_routes: []\n#END\n",
            "foo: unknown key \"foo\""
        },
        {
            "apisix:\n  proxy_mode: stream\n  stream_proxy:\n    tcp: [9100]\ndeployment: {role: data_plane, role_data_plane: {config_provider: yaml}}\n",
            "stream_routes:\n  - id: 1\n    server_port: 70000\n    upstream: {nodes: {\"127.0.0.1:1\": 1}}\n#END\n",
            "stream_routes[0].server_port: property \"server_port\" validation failed: expected 70000 to be at most 65535"
        },
        {
            "apisix:\n  proxy_mode: stream\n  stream_proxy:\n    tcp: [9100]\ndeployment: {role: data_plane, role_data_plane: {config_provider: yaml}}\n",
            "stream_routes:\n  - id: 1\n    upstream_id: nope\n#END\n",
            "failed to fetch upstream info by upstream id [nope], response code: 404"
        },
        {
            "apisix:\n  proxy_mode: stream\n  stream_proxy:\n    tcp: [9100]\ndeployment: {role: data_plane, role_data_plane: {config_provider: yaml}}\n",
            "stream_routes:\n  - id: 1\n    upstream: {nodes: {\"127.0.0.1:1\": 1}}\n",
            "does not end with the line #END"
        },
        {
            "apisix:\n  proxy_mode: stream\n  stream_proxy:\n    tcp: [9100]\ndeployment: {role: data_plane, role_data_plane: {config_provider: yaml}}\n",
            "stream_routes:\n  - id: 1\n    remote_addr: \":/8\"\n    upstream: {nodes: {\"127.0.0.1:1\": 1}}\n#END\n",
            "invalid remote_addr: :/8"
        },
    };

    [Theory(Timeout = TestTimeoutMs)]
    [MemberData(nameof(BadConfigs))]
    public async Task Bad_configuration_is_refused_at_start_and_by_validate(string config, string standalone, string expected)
    {
        var (runExit, runOutput) = await GatewayProcess.RunToExitAsync(config, standalone, "run");
        Assert.Equal(1, runExit);
        Assert.Contains(expected, runOutput, StringComparison.Ordinal);
        var (validateExit, validateOutput) = await GatewayProcess.RunToExitAsync(config, standalone, "validate");
        Assert.Equal(1, validateExit);
        Assert.Contains(expected, validateOutput, StringComparison.Ordinal);
    }

    [Theory(Timeout = TestTimeoutMs)]
    [InlineData("conf")]
    [InlineData("conf/standalone")]
    public async Task Validate_accepts_the_shipped_configuration(string folder)
    {
        var root = FindRepositoryRoot();
        var (exit, output) = await GatewayProcess.RunToExitAsync(
            await File.ReadAllTextAsync(Path.Combine(root, folder, "config.yaml")),
            await File.ReadAllTextAsync(Path.Combine(root, folder, "apisix.yaml")),
            "validate");
        Assert.True(exit == 0, output);
        Assert.Contains("configuration is valid", output, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_port_already_in_use_is_reported_by_address()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        var port = ((IPEndPoint)taken.LocalEndPoint!).Port;
        var (exit, output) = await GatewayProcess.RunToExitAsync(Configs.Gateway(port), "stream_routes: []\n#END\n", "run");
        Assert.Equal(1, exit);
        Assert.Contains($"cannot listen on 127.0.0.1:{port}", output, StringComparison.Ordinal);
    }

    private static string FindRepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "StreamGate.slnx")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("repository root not found");
    }
}
