using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using StreamGate.IntegrationTests.Infrastructure;

namespace StreamGate.IntegrationTests.Robustness;

/// <summary>
/// Descriptor exhaustion, accept back-off and failing system calls, through the real gateway process: under
/// pressure the gateway serves fewer connections at once and says so; it never dies and never stops accepting.
/// System-call failures that cannot be caused from outside are injected with STREAMGATE_FAULTS.
/// </summary>
public sealed partial class ResourcePressureTests
{
    private const int TestTimeoutMs = 120_000;

    private static string RouteTo(TestServer server) => Configs.RouteTo(server.Node);

    private static Dictionary<string, string> Faults(string spec) => new() { ["STREAMGATE_FAULTS"] = spec };

    private static async Task<bool> EchoesAsync(int port, string text, int holdMs = 0)
    {
        try
        {
            using var client = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
            if (holdMs > 0)
            {
                await Task.Delay(holdMs);
            }
            await client.SendTextAsync(text);
            var echoed = System.Text.Encoding.ASCII.GetString(await client.ReceiveExactlyAsync(text.Length, TimeSpan.FromSeconds(60)));
            client.Shutdown(SocketShutdown.Send);
            return echoed == text && await client.WaitForEndAsync(TimeSpan.FromSeconds(60)) == ConnectionEnd.Closed;
        }
        catch (Exception e) when (e is SocketException or TimeoutException or OperationCanceledException or EndOfStreamException)
        {
            return false;
        }
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task At_ulimit_260_four_hundred_clients_are_all_served_and_the_process_lives()
    {
        await using var upstream = TestServer.Echo();
        var port = Ports.GetFree();
        await using var gateway = await GatewayProcess.StartAsync(Configs.Gateway(port), RouteTo(upstream), openFilesLimit: 260);

        // Before the cap, the data plane took every descriptor and the runtime's own pipe2/open then failed:
        // "Out of memory." and the process was gone.
        // Each client holds its connection a moment, so they overlap and would take every descriptor.
        var clients = Enumerable.Range(0, 400).Select(i => EchoesAsync(port, $"client {i}", holdMs: 50)).ToArray();
        var served = await Task.WhenAll(clients);
        Assert.Equal(400, served.Count(s => s));
        Assert.False(gateway.HasExited, gateway.Output);
        Assert.True(await EchoesAsync(port, "after"), "a connection after the load was not served");
        // The cap kept the data plane inside its budget: accept never ran out of descriptors.
        Assert.DoesNotContain("out of resources", gateway.Output, StringComparison.Ordinal);
        Assert.Matches(DescriptorBudgetLine(), gateway.Output);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_worker_connections_above_what_the_limit_allows_is_lowered_with_a_warning()
    {
        await using var upstream = TestServer.Echo();
        var port = Ports.GetFree();
        var config = Configs.Gateway(port, """
            nginx_config:
              event:
                worker_connections: 5000
            """);
        await using var gateway = await GatewayProcess.StartAsync(config, RouteTo(upstream), openFilesLimit: 400);
        Assert.Contains("nginx_config.event.worker_connections is 5000 per event loop, but the open-files limit (400) leaves descriptors for", gateway.Output, StringComparison.Ordinal);
        var served = await Task.WhenAll(Enumerable.Range(0, 300).Select(i => EchoesAsync(port, $"c{i}")));
        Assert.Equal(300, served.Count(s => s));
        Assert.False(gateway.HasExited, gateway.Output);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Accept_out_of_descriptors_backs_off_once_per_loop_doubling_then_serves_again()
    {
        await using var upstream = TestServer.Echo();
        var first = Ports.GetFree();
        var ports = Enumerable.Range(0, 4).Select(i => Ports.GetFree()).ToArray();
        // Four listeners on one loop, each with a connection waiting: one turn sees them all readable.
        var config = Configs.Gateway([.. ports.Select(p => $"127.0.0.1:{p}")], Configs.Loops(1));
        await using var gateway = await GatewayProcess.StartAsync(config, RouteTo(upstream), environment: Faults("accept*3"));
        var clients = ports.Select(p => EchoesAsync(p, "hello")).ToArray();
        Assert.All(await Task.WhenAll(clients), Assert.True);

        // Before the fix one turn doubled the back-off once per listener (100 to 800 ms in the same
        // millisecond) and accepted on listeners it had just paused.
        var backoffs = BackoffLine().Matches(gateway.Output).Select(m => int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        Assert.Equal([100, 200, 400], backoffs);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_failed_epoll_registration_fails_that_connection_only()
    {
        await using var upstream = TestServer.Echo();
        var port = Ports.GetFree();
        // One loop: its warning is rate-limited, so the two failures make one line.
        var config = Configs.Gateway(port, Configs.Loops(1));
        await using var gateway = await GatewayProcess.StartAsync(config, RouteTo(upstream), environment: Faults("epoll_ctl*2"));
        var baseline = gateway.OpenSockets();
        // Before the fix an epoll_ctl failure was an unhandled exception: the loop thread died with the fd open.
        for (var i = 0; i < 2; i++)
        {
            using var refused = await GatewayProcess.ConnectAsync(IPAddress.Loopback, port);
            Assert.Equal(ConnectionEnd.Closed, await refused.WaitForEndAsync(TimeSpan.FromSeconds(10)));
        }
        Assert.True(await EchoesAsync(port, "third"));
        Assert.Single(Regex.Matches(gateway.Output, "Cannot register a connection with epoll"));
        Assert.True(await gateway.WaitForSocketsAtMostAsync(baseline, TimeSpan.FromSeconds(10)) <= baseline, "a failed connection's socket was left open");
        Assert.False(gateway.HasExited);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_loop_whose_epoll_wait_fails_closes_its_listeners_so_no_connection_is_lost()
    {
        await using var upstream = TestServer.Echo();
        var port = Ports.GetFree();
        var config = Configs.Gateway(port, Configs.Loops(2));
        await using var gateway = await GatewayProcess.StartAsync(config, RouteTo(upstream), environment: Faults("epoll_wait@0"));
        await gateway.WaitForOutputAsync("Event loop 0 failed and stopped; its listeners are closed", TimeSpan.FromSeconds(10));
        // With loop 0's SO_REUSEPORT listener still open, the kernel would hand it half of these, and nobody accepts.
        var served = await Task.WhenAll(Enumerable.Range(0, 40).Select(i => EchoesAsync(port, $"c{i}")));
        Assert.Equal(40, served.Count(s => s));
        Assert.False(gateway.HasExited);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task When_the_last_loop_fails_the_process_exits_non_zero()
    {
        await using var upstream = TestServer.Echo();
        var port = Ports.GetFree();
        var config = Configs.Gateway(port, Configs.Loops(1));
        var (exit, output) = await GatewayProcess.RunToExitAsync(config, RouteTo(upstream), "run", Faults("epoll_wait@0"));
        Assert.Equal(1, exit);
        Assert.Contains("No event loop is left", output, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"Open files: \d+ \(soft limit [^)]*\); worker_connections: \d+ per event loop")]
    private static partial Regex DescriptorBudgetLine();

    [GeneratedRegex(@"not accepting for (\d+) ms")]
    private static partial Regex BackoffLine();
}
