using System.Net;
using System.Net.Sockets;
using StreamGate.IntegrationTests.Infrastructure;

namespace StreamGate.IntegrationTests;

/// <summary>The access log under rotation, as logrotate does it: copytruncate, or rename and SIGUSR1 (nginx's convention).</summary>
public sealed class AccessLogTests
{
    private const int TestTimeoutMs = 90_000;
    private const int SigUsr1 = 10;
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private static async Task<(GatewayProcess Gateway, int Port, string LogPath)> StartAsync(TestServer upstream, string accessLog = "logs/access.log")
    {
        var port = Ports.GetFree();
        var extra = $"""
            nginx_config:
              stream:
                enable_access_log: true
                access_log: {accessLog}
                access_log_format: "access $bytes_received $status"
            """;
        var gateway = await GatewayProcess.StartAsync(Configs.Gateway(port, extra), Configs.SingleRoute(Configs.Node(upstream.Node)));
        return (gateway, port, Path.Combine(gateway.Directory, "logs", "access.log"));
    }

    /// <summary>One connection that sends <paramref name="text"/>, gets it echoed and ends: one log line "access {length} 200".</summary>
    private static async Task ExchangeAsync(int port, string text)
    {
        using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
        await client.SendTextAsync(text);
        Assert.Equal(text, await client.ReceiveTextAsync(text.Length));
        client.Shutdown(SocketShutdown.Send);
        await client.ReceiveToEndAsync();
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Copytruncate_leaves_no_hole_and_the_next_line_starts_the_file()
    {
        await using var upstream = TestServer.Echo();
        var (gateway, port, log) = await StartAsync(upstream);
        await using var _ = gateway;
        await ExchangeAsync(port, "first");
        await WaitForFileAsync(log, "access 5 200\n");

        // logrotate's copytruncate: copy the file aside, then cut it to 0 bytes while the gateway holds it open.
        File.Copy(log, log + ".1");
        using (var file = new FileStream(log, FileMode.Open, FileAccess.Write, FileShare.ReadWrite))
        {
            file.SetLength(0);
        }
        await ExchangeAsync(port, "second!");

        // Written at the old offset, the line would follow 13 NUL bytes.
        await WaitForFileAsync(log, "access 7 200\n");
        Assert.DoesNotContain((byte)0, await File.ReadAllBytesAsync(log));
        Assert.Equal("access 5 200\n", await File.ReadAllTextAsync(log + ".1"));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Sigusr1_after_a_rename_reopens_the_log()
    {
        await using var upstream = TestServer.Echo();
        var (gateway, port, log) = await StartAsync(upstream);
        await using var _ = gateway;
        await ExchangeAsync(port, "first");
        await WaitForFileAsync(log, "access 5 200\n");

        // mv access.log access.log.1; kill -USR1 <pid>
        File.Move(log, log + ".1");
        gateway.Signal(SigUsr1);
        await gateway.WaitForOutputAsync("reopened", Wait);
        await ExchangeAsync(port, "second!");

        await WaitForFileAsync(log, "access 7 200\n");
        Assert.Equal("access 5 200\n", await File.ReadAllTextAsync(log + ".1"));
        Assert.False(gateway.HasExited);
        // Still serving, still logging to the new file.
        await ExchangeAsync(port, "third");
        await WaitForFileAsync(log, "access 7 200\naccess 5 200\n");
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Stdout_gets_the_lines()
    {
        await using var upstream = TestServer.Echo();
        var (gateway, port, _) = await StartAsync(upstream, accessLog: "stdout");
        await using var __ = gateway;
        await ExchangeAsync(port, "to stdout");
        await gateway.WaitForOutputAsync("access 9 200", Wait);
        // SIGUSR1 with stdout as the log: nothing to reopen, and the process must not die of it.
        gateway.Signal(SigUsr1);
        await ExchangeAsync(port, "again");
        await gateway.WaitForOutputAsync("access 5 200", Wait);
        Assert.False(gateway.HasExited);
    }

    /// <summary>Waits until the file holds exactly <paramref name="expected"/>; fails showing what it holds.</summary>
    private static async Task WaitForFileAsync(string path, string expected)
    {
        var deadline = DateTime.UtcNow + Wait;
        var content = "";
        while (DateTime.UtcNow < deadline)
        {
            content = File.Exists(path) ? await File.ReadAllTextAsync(path) : "";
            if (content == expected)
            {
                return;
            }
            await Task.Delay(20);
        }
        Assert.Equal(expected, content);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Sigusr1_without_an_access_log_leaves_the_gateway_running()
    {
        await using var upstream = TestServer.Echo();
        var port = Ports.GetFree();
        await using var gateway = await GatewayProcess.StartAsync(Configs.Gateway(port), Configs.SingleRoute(Configs.Node(upstream.Node)));
        gateway.Signal(SigUsr1);
        // Its default action would have ended the process at once; the next connection proves it did not.
        await ExchangeAsync(port, "still here");
        Assert.False(gateway.HasExited);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task An_access_log_that_cannot_be_opened_refuses_to_start_naming_the_key()
    {
        var port = Ports.GetFree();
        var extra = """
            nginx_config:
              stream:
                enable_access_log: true
                access_log: /proc/streamgate-no-such-dir/access.log
            """;
        var (exit, output) = await GatewayProcess.RunToExitAsync(Configs.Gateway(port, extra), "stream_routes: []\n#END\n", "run");
        Assert.Equal(1, exit);
        Assert.Contains("nginx_config.stream.access_log: cannot open the access log /proc/streamgate-no-such-dir/access.log", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Unhandled exception", output, StringComparison.Ordinal);
    }
}
