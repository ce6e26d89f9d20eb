using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using StreamGate.IntegrationTests.Infrastructure;

namespace StreamGate.IntegrationTests;

/// <summary>
/// The data plane end to end: the real gateway process between real sockets, covering what Envoy's tcp_proxy
/// and nginx's stream integration tests cover (echo, half-close, resets, retries, big transfers, backpressure).
/// </summary>
public sealed class TcpProxyTests
{
    private const int TestTimeoutMs = 90_000;

    private static async Task<(GatewayProcess Gateway, int Port)> StartInFrontOfAsync(string nodesYaml, string upstreamExtra = "", string gatewayExtra = "")
    {
        var port = Ports.GetFree();
        var gateway = await GatewayProcess.StartAsync(Configs.Gateway(port, gatewayExtra), Configs.SingleRoute(nodesYaml, upstreamExtra));
        return (gateway, port);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Echo_passes_bytes_both_ways()
    {
        await using var upstream = TestServer.Echo();
        var (gateway, port) = await StartInFrontOfAsync(Configs.Node(upstream.Node));
        await using var _ = gateway;
        using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
        for (var i = 0; i < 3; i++)
        {
            await client.SendTextAsync($"ping {i}");
            Assert.Equal($"ping {i}", await client.ReceiveTextAsync(6));
        }
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Server_that_speaks_first_reaches_a_silent_client()
    {
        await using var upstream = TestServer.Named("220 smtp.example ready");
        var (gateway, port) = await StartInFrontOfAsync(Configs.Node(upstream.Node));
        await using var _ = gateway;
        using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
        Assert.Equal("220 smtp.example ready\n", await client.ReceiveTextAsync(23));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Client_half_close_still_gets_the_whole_answer()
    {
        // The server answers only after the request ends (FIN), like a client of `nc -N`.
        await using var upstream = new TestServer(async s =>
        {
            var request = await s.ReceiveToEndAsync();
            var answer = new byte[256 * 1024];
            Array.Fill(answer, (byte)'a');
            Encoding.ASCII.GetBytes($"got {request.Length:D8}").CopyTo(answer, 0);
            await s.SendAsync(answer);
            s.Shutdown(SocketShutdown.Send);
        });
        var (gateway, port) = await StartInFrontOfAsync(Configs.Node(upstream.Node));
        await using var _ = gateway;
        using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
        await client.SendAsync(new byte[100_000]);
        client.Shutdown(SocketShutdown.Send);
        var answer = await client.ReceiveToEndAsync();
        Assert.Equal(256 * 1024, answer.Length);
        Assert.Equal("got 00100000", Encoding.ASCII.GetString(answer, 0, 12));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Server_half_close_still_lets_the_client_send()
    {
        var serverReceived = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = new TestServer(async s =>
        {
            await s.SendAsync(Encoding.ASCII.GetBytes("bye"));
            s.Shutdown(SocketShutdown.Send);
            serverReceived.TrySetResult(Encoding.ASCII.GetString(await s.ReceiveToEndAsync()));
        });
        var (gateway, port) = await StartInFrontOfAsync(Configs.Node(upstream.Node));
        await using var _ = gateway;
        using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
        Assert.Equal("bye", Encoding.ASCII.GetString(await client.ReceiveToEndAsync()));
        await client.SendTextAsync("still here");
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal("still here", await serverReceived.Task.WaitAsync(SocketExtensions.DefaultTimeout));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Client_reset_resets_the_upstream()
    {
        var gotData = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var upstreamEnd = new TaskCompletionSource<ConnectionEnd>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var upstream = new TestServer(async s =>
        {
            await s.ReceiveExactlyAsync(1);
            gotData.TrySetResult();
            upstreamEnd.TrySetResult(await s.WaitForEndAsync());
        });
        var (gateway, port) = await StartInFrontOfAsync(Configs.Node(upstream.Node));
        await using var _ = gateway;
        var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
        await client.SendTextAsync("x");
        await gotData.Task.WaitAsync(SocketExtensions.DefaultTimeout);
        client.Reset();
        Assert.Equal(ConnectionEnd.Reset, await upstreamEnd.Task.WaitAsync(SocketExtensions.DefaultTimeout));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream_reset_resets_the_client()
    {
        await using var upstream = new TestServer(async s =>
        {
            await s.ReceiveExactlyAsync(1);
            s.Reset();
        });
        var (gateway, port) = await StartInFrontOfAsync(Configs.Node(upstream.Node));
        await using var _ = gateway;
        using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
        await client.SendTextAsync("x");
        Assert.Equal(ConnectionEnd.Reset, await client.WaitForEndAsync());
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Refused_node_is_retried_on_the_next_one()
    {
        using var closed = Ports.ReserveClosed(out var closedPort);
        await using var upstream = TestServer.Echo();
        var (gateway, port) = await StartInFrontOfAsync(Configs.Node($"127.0.0.1:{closedPort}") + "\n" + Configs.Node(upstream.Node));
        await using var _ = gateway;
        // Round robin sends every other first attempt to the refusing node; each must land on the live one.
        for (var i = 0; i < 6; i++)
        {
            using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
            await client.SendTextAsync("hello");
            Assert.Equal("hello", await client.ReceiveTextAsync(5));
        }
        Assert.Equal(6, upstream.Accepted);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Without_retries_a_refused_node_closes_the_client()
    {
        using var closed = Ports.ReserveClosed(out var closedPort);
        await using var upstream = TestServer.Echo();
        var (gateway, port) = await StartInFrontOfAsync(
            Configs.Node($"127.0.0.1:{closedPort}") + "\n" + Configs.Node(upstream.Node),
            "    retries: 0",
            // Round robin keeps its scores per event loop (as nginx without a zone): one loop makes the
            // alternation between the two nodes exact.
            "nginx_config:\n  worker_processes: 1");
        await using var _ = gateway;
        var closedCount = 0;
        for (var i = 0; i < 4; i++)
        {
            using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
            await client.SendTextAsync("hello");
            client.Shutdown(SocketShutdown.Send);
            // The gateway closes with our "hello" unread, so the kernel may turn its FIN into a reset.
            var echoed = await ReceiveUntilEndAsync(client);
            closedCount += echoed.Length == 0 ? 1 : 0;
        }
        // Two of four first attempts go to the refusing node, and with retries 0 nothing saves them.
        Assert.Equal(2, closedCount);
    }

    private static async Task<byte[]> ReceiveUntilEndAsync(Socket client)
    {
        try
        {
            return await client.ReceiveToEndAsync();
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionReset)
        {
            return [];
        }
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task All_nodes_down_closes_the_client_without_data()
    {
        using var closedA = Ports.ReserveClosed(out var portA);
        using var closedB = Ports.ReserveClosed(out var portB);
        var (gateway, port) = await StartInFrontOfAsync(Configs.Node($"127.0.0.1:{portA}") + "\n" + Configs.Node($"127.0.0.1:{portB}"));
        await using var _ = gateway;
        using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
        Assert.Empty(await client.ReceiveToEndAsync(TimeSpan.FromSeconds(10)));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Upstream_dying_mid_stream_ends_the_client_connection()
    {
        await using var upstream = new TestServer(async s =>
        {
            await s.ReceiveExactlyAsync(1024 * 1024);
            s.Reset();
        });
        var (gateway, port) = await StartInFrontOfAsync(Configs.Node(upstream.Node));
        await using var _ = gateway;
        using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
        var chunk = new byte[64 * 1024];
        var sendFailed = false;
        try
        {
            using var cts = new CancellationTokenSource(SocketExtensions.DefaultTimeout);
            for (var i = 0; i < 1024; i++)
            {
                await client.SendAsync(chunk, SocketFlags.None, cts.Token);
            }
        }
        catch (SocketException)
        {
            sendFailed = true;
        }
        var end = sendFailed ? ConnectionEnd.Reset : await client.WaitForEndAsync();
        Assert.Equal(ConnectionEnd.Reset, end);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Sixty_four_MiB_each_way_arrive_intact()
    {
        await using var upstream = TestServer.Echo();
        var (gateway, port) = await StartInFrontOfAsync(Configs.Node(upstream.Node));
        await using var _ = gateway;
        using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
        var data = new byte[64 * 1024 * 1024];
        new Random(42).NextBytes(data);
        var receiving = client.ReceiveToEndAsync(TimeSpan.FromSeconds(60));
        await client.SendAsync(data).WaitAsync(TimeSpan.FromSeconds(60));
        client.Shutdown(SocketShutdown.Send);
        var echoed = await receiving;
        Assert.Equal(data.Length, echoed.Length);
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(echoed));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_reader_that_stops_reading_does_not_make_the_gateway_buffer()
    {
        const int total = 64 * 1024 * 1024;
        var data = new byte[total];
        new Random(7).NextBytes(data);
        long sent = 0;
        await using var upstream = new TestServer(async s =>
        {
            for (var offset = 0; offset < total; offset += 64 * 1024)
            {
                await s.SendAsync(data.AsMemory(offset, 64 * 1024));
                Interlocked.Add(ref sent, 64 * 1024);
            }
            s.Shutdown(SocketShutdown.Send);
        });
        var (gateway, port) = await StartInFrontOfAsync(Configs.Node(upstream.Node));
        await using var _ = gateway;
        var before = gateway.ResidentBytes();
        using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);

        // Wait until the upstream can send no more: every buffer on the path is full and the gateway stopped reading.
        long last = -1;
        for (var i = 0; i < 100 && Interlocked.Read(ref sent) != last; i++)
        {
            last = Interlocked.Read(ref sent);
            await Task.Delay(300);
        }
        Assert.True(Interlocked.Read(ref sent) < total, "the upstream sent everything although the client read nothing");
        var growth = gateway.ResidentBytes() - before;
        Assert.True(growth < 24 * 1024 * 1024, $"gateway memory grew by {growth / 1024} KiB while the client did not read");

        var received = await client.ReceiveToEndAsync(TimeSpan.FromSeconds(60));
        Assert.Equal(SHA256.HashData(data), SHA256.HashData(received));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_thousand_concurrent_connections_with_random_writes_and_closes()
    {
        await using var upstream = TestServer.Echo();
        var (gateway, port) = await StartInFrontOfAsync(Configs.Node(upstream.Node));
        await using var _ = gateway;
        // Sockets only: the runtime opens assembly files lazily (two descriptors each), which is no leak.
        var baselineFds = gateway.OpenSockets();
        var failures = 0;
        var tasks = Enumerable.Range(0, 1000).Select(async i =>
        {
            var random = new Random(i);
            try
            {
                using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
                for (var w = random.Next(1, 5); w > 0; w--)
                {
                    var payload = new byte[random.Next(1, 16 * 1024)];
                    random.NextBytes(payload);
                    await client.SendAsync(payload).WaitAsync(SocketExtensions.DefaultTimeout);
                    Assert.Equal(payload, await client.ReceiveExactlyAsync(payload.Length, TimeSpan.FromSeconds(30)));
                }
                if (random.Next(2) == 0)
                {
                    client.Reset();
                }
                else
                {
                    client.Shutdown(SocketShutdown.Send);
                    Assert.Empty(await client.ReceiveToEndAsync(TimeSpan.FromSeconds(30)));
                }
            }
            catch (Exception e) when (e is SocketException or TimeoutException or EndOfStreamException or OperationCanceledException)
            {
                Interlocked.Increment(ref failures);
            }
        }).ToArray();
        await Task.WhenAll(tasks);
        Assert.Equal(0, failures);

        // Every proxied connection was closed on both sides: the gateway's descriptors return to the baseline.
        var fds = await gateway.WaitForSocketsAtMostAsync(baselineFds, TimeSpan.FromSeconds(10));
        Assert.True(fds <= baselineFds, $"gateway holds {fds} sockets, {baselineFds} before the load");
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Idle_connection_is_closed_after_the_upstream_timeout()
    {
        await using var upstream = TestServer.Echo();
        var (gateway, port) = await StartInFrontOfAsync(Configs.Node(upstream.Node), "    timeout: {connect: 5, send: 1, read: 1}");
        await using var _ = gateway;
        using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
        await client.SendTextAsync("once");
        Assert.Equal("once", await client.ReceiveTextAsync(4));
        Assert.Equal(ConnectionEnd.Closed, await client.WaitForEndAsync(TimeSpan.FromSeconds(20)));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Access_log_records_each_connection()
    {
        await using var upstream = TestServer.Echo();
        var port = Ports.GetFree();
        var extra = """
            nginx_config:
              stream:
                enable_access_log: true
                access_log: logs/access.log
                access_log_format: "$remote_addr $server_port $status $bytes_sent $bytes_received $upstream_addr"
            """;
        await using var gateway = await GatewayProcess.StartAsync(Configs.Gateway(port, extra), Configs.SingleRoute(Configs.Node(upstream.Node)));
        using (var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port))
        {
            await client.SendTextAsync("12345");
            await client.ReceiveTextAsync(5);
            client.Shutdown(SocketShutdown.Send);
            await client.ReceiveToEndAsync();
        }
        var logPath = Path.Combine(gateway.Directory, "logs", "access.log");
        var expected = $"127.0.0.1 {port} 200 5 5 {upstream.Node}";
        string content = "";
        for (var i = 0; i < 100 && !content.Contains(expected, StringComparison.Ordinal); i++)
        {
            await Task.Delay(100);
            content = File.Exists(logPath) ? await File.ReadAllTextAsync(logPath) : "";
        }
        Assert.Contains(expected, content, StringComparison.Ordinal);
    }
}
