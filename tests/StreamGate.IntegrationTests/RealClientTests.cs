using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using StreamGate.IntegrationTests.Infrastructure;

namespace StreamGate.IntegrationTests;

/// <summary>A real Redis server behind the gateway, driven by the real redis-cli.</summary>
public sealed class RealClientTests
{
    private const int TestTimeoutMs = 60_000;

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Redis_cli_talks_to_redis_server_through_the_gateway()
    {
        var redisPort = Ports.GetFree();
        using var redis = ExternalProcess.StartServer("redis-server", "--port", redisPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no");
        try
        {
            await WaitForPortAsync(redisPort);
            var port = Ports.GetFree();
            await using var gateway = await GatewayProcess.StartAsync(Configs.Gateway(port), Configs.SingleRoute(Configs.Node($"127.0.0.1:{redisPort}")));
            var cli = new[] { "-h", "127.0.0.1", "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture) };

            var (pingExit, pong) = await ExternalProcess.RunAsync("redis-cli", [.. cli, "PING"]);
            Assert.Equal(0, pingExit);
            Assert.Equal("PONG", pong.Trim());

            // A 1 MiB value written through the gateway from stdin and read back whole.
            var value = string.Concat(Enumerable.Range(0, 1024 * 1024 / 16).Select(i => i.ToString("x15", System.Globalization.CultureInfo.InvariantCulture) + "-"));
            var (setExit, ok) = await ExternalProcess.RunAsync("redis-cli", [.. cli, "-x", "SET", "big"], stdin: value);
            Assert.Equal(0, setExit);
            Assert.Equal("OK", ok.Trim());
            var (getExit, got) = await ExternalProcess.RunAsync("redis-cli", [.. cli, "--raw", "GET", "big"]);
            Assert.Equal(0, getExit);
            Assert.Equal(value, got.TrimEnd('\n'));

            var (pipeExit, pipeOut) = await ExternalProcess.RunAsync("redis-cli", [.. cli], stdin: string.Concat(Enumerable.Range(0, 500).Select(i => $"INCR counter\n")));
            Assert.Equal(0, pipeExit);
            Assert.EndsWith("500", pipeOut.Trim(), StringComparison.Ordinal);
        }
        finally
        {
            redis.Kill();
            await redis.WaitForExitAsync();
        }
    }

    private static async Task WaitForPortAsync(int port)
    {
        var watch = Stopwatch.StartNew();
        while (true)
        {
            try
            {
                using var probe = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (watch.Elapsed < TimeSpan.FromSeconds(15))
            {
                await Task.Delay(50);
            }
        }
    }
}
