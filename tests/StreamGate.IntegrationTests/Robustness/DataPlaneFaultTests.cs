using System.Net;
using System.Net.Sockets;
using System.Text;
using StreamGate.IntegrationTests.Infrastructure;

namespace StreamGate.IntegrationTests.Robustness;

/// <summary>
/// Faults of the data plane that nginx and HAProxy survive, each reproduced through the real gateway process:
/// resets after a half-close, a second instance on the same port, shutdown with a backlog, a second SIGTERM.
/// </summary>
public sealed class DataPlaneFaultTests
{
    private const int TestTimeoutMs = 60_000;

    private static string RouteTo(TestServer server) => Configs.RouteTo(server.Node);

    private static string AccessLog(string format) => $$"""
        nginx_config:
          stream:
            enable_access_log: true
            access_log: logs/access.log
            access_log_format: "{{format}}"
        """;

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_client_reset_after_its_FIN_closes_the_upstream_at_once()
    {
        // The upstream reads to the end and stays silent: nothing but the client's reset can end the session.
        var readToEnd = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var sessionClosed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var upstreamSawReset = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = new TestServer(async socket =>
        {
            var buffer = new byte[1024];
            while (await socket.ReceiveAsync(buffer) > 0)
            {
            }
            readToEnd.TrySetResult();
            await sessionClosed.Task;
            // The gateway passed the client's reset on: writing to it fails within a couple of sends.
            for (var i = 0; i < 50; i++)
            {
                try
                {
                    await socket.SendAsync(new byte[1]);
                }
                catch (SocketException)
                {
                    upstreamSawReset.TrySetResult(true);
                    return;
                }
                await Task.Delay(20);
            }
            upstreamSawReset.TrySetResult(false);
        });
        var port = Ports.GetFree();
        await using var gateway = await GatewayProcess.StartAsync(Configs.Gateway(port, AccessLog("$status $bytes_received")), RouteTo(upstream));
        var baseline = gateway.OpenSockets();

        using (var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port))
        {
            await client.SendTextAsync("hello");
            client.Shutdown(SocketShutdown.Send);
            await readToEnd.Task.WaitAsync(TimeSpan.FromSeconds(10));
            client.Reset();
        }

        // Before the fix the upstream socket sat in FIN-WAIT-2 until the 600 s idle timeout, with no log line.
        var logPath = Path.Combine(gateway.Directory, "logs", "access.log");
        var line = await WaitForLineAsync(logPath, TimeSpan.FromSeconds(15));
        Assert.Equal("200 5", line);
        sessionClosed.TrySetResult();
        Assert.True(await upstreamSawReset.Task.WaitAsync(TimeSpan.FromSeconds(10)), "the upstream never saw the reset");
        Assert.True(await gateway.WaitForSocketsAtMostAsync(baseline, TimeSpan.FromSeconds(10)) <= baseline, "the session's sockets are still open");
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_second_instance_on_the_same_port_is_refused_and_the_first_keeps_serving()
    {
        await using var upstream = TestServer.Named("first");
        var port = Ports.GetFree();
        await using var first = await GatewayProcess.StartAsync(Configs.Gateway(port), RouteTo(upstream));

        var (exit, output) = await GatewayProcess.RunToExitAsync(Configs.Gateway(port), RouteTo(upstream), "run");
        Assert.Equal(1, exit);
        Assert.Contains($"cannot listen on 127.0.0.1:{port}: address in use", output, StringComparison.Ordinal);

        // Every new connection still reaches the first instance: none is handed to a second one.
        for (var i = 0; i < 8; i++)
        {
            using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
            Assert.Equal("first\n", await client.ReceiveTextAsync(6));
        }
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_wildcard_listener_is_refused_where_another_process_listens_on_one_address()
    {
        using var taken = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        taken.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        // As another SO_REUSEPORT server would: without the check, the gateway's reuseport bind would succeed.
        taken.SetRawSocketOption(1, 15, BitConverter.GetBytes(1));
        taken.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        taken.Listen();
        var port = ((IPEndPoint)taken.LocalEndPoint!).Port;
        var (exit, output) = await GatewayProcess.RunToExitAsync(Configs.Gateway([port.ToString(System.Globalization.CultureInfo.InvariantCulture)]), "stream_routes: []\n#END\n", "run");
        Assert.Equal(1, exit);
        Assert.Contains("address in use", output, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Connections_waiting_in_the_backlog_at_shutdown_are_served_not_reset()
    {
        await using var upstream = TestServer.Echo();
        var port = Ports.GetFree();
        // One loop that holds one connection: the next ones wait in the listener's backlog.
        var config = Configs.Gateway(port, """
            nginx_config:
              worker_processes: 1
              event:
                worker_connections: 1
            """);
        await using var gateway = await GatewayProcess.StartAsync(config, RouteTo(upstream));
        using var held = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
        await held.SendTextAsync("held");
        Assert.Equal("held", await held.ReceiveTextAsync(4));

        var waiting = new List<Socket>();
        for (var i = 0; i < 5; i++)
        {
            // connect() completes in the kernel; the gateway, at its cap, does not accept.
            waiting.Add(await GatewayProcess.ConnectAsync(IPAddress.Loopback, port));
        }
        await gateway.WaitForOutputAsync("holds 1 connections", TimeSpan.FromSeconds(10));
        foreach (var client in waiting)
        {
            await client.SendTextAsync("queued");
        }

        gateway.Terminate();
        await gateway.WaitForOutputAsync("Stopped accepting", TimeSpan.FromSeconds(10));
        foreach (var client in waiting)
        {
            Assert.Equal("queued", await client.ReceiveTextAsync(6));
            client.Shutdown(SocketShutdown.Send);
            Assert.Equal(ConnectionEnd.Closed, await client.WaitForEndAsync());
            client.Dispose();
        }
        held.Shutdown(SocketShutdown.Send);
        Assert.Equal(ConnectionEnd.Closed, await held.WaitForEndAsync());
        Assert.Equal(0, await gateway.WaitForExitAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_second_SIGTERM_closes_open_connections_and_exits_at_once()
    {
        await using var upstream = TestServer.Echo();
        var port = Ports.GetFree();
        // A grace period far longer than the test may take: only the second signal can end it in time.
        var config = Configs.Gateway(port, """
            nginx_config:
              worker_shutdown_timeout: 600s
            """);
        await using var gateway = await GatewayProcess.StartAsync(config, RouteTo(upstream));
        using var open = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
        await open.SendTextAsync("ping");
        Assert.Equal("ping", await open.ReceiveTextAsync(4));

        gateway.Terminate();
        await gateway.WaitForOutputAsync("waiting up to 600 s for 1 open connections", TimeSpan.FromSeconds(10));
        // Still draining: the open connection works, new ones are refused.
        await open.SendTextAsync("pong");
        Assert.Equal("pong", await open.ReceiveTextAsync(4));
        await Assert.ThrowsAsync<SocketException>(() => GatewayProcess.ConnectAsync(IPAddress.Loopback, port));

        gateway.Terminate();
        Assert.Equal(ConnectionEnd.Closed, await open.WaitForEndAsync(TimeSpan.FromSeconds(10)));
        Assert.Equal(0, await gateway.WaitForExitAsync(TimeSpan.FromSeconds(10)));
        Assert.Contains("Second stop signal", gateway.Output, StringComparison.Ordinal);
    }

    private static async Task<string> WaitForLineAsync(string path, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        while (true)
        {
            if (File.Exists(path))
            {
                var text = await File.ReadAllTextAsync(path, Encoding.UTF8, CancellationToken.None);
                if (text.Contains('\n', StringComparison.Ordinal))
                {
                    return text[..text.IndexOf('\n', StringComparison.Ordinal)];
                }
            }
            await Task.Delay(50, cts.Token);
        }
    }
}
