using System.Net.Sockets;
using System.Text;
using StreamGate.Proxy.Preread;
using StreamGate.Upstreams;

namespace StreamGate.Tests.Proxy;

/// <summary>Preread hooks on the real data plane: consume and replay, reject, caps, timeouts, delays, routing and upstream choice.</summary>
public sealed class PrereadHookTests
{
    private sealed class Hook(Func<ReadOnlySpan<byte>, bool, PrereadContext, PrereadVerdict> inspect, int maxBytes = 64, int timeoutMs = 5_000) : IPrereadHook
    {
        private readonly Func<ReadOnlySpan<byte>, bool, PrereadContext, PrereadVerdict> _inspect = inspect;

        public string Name => "test";

        public int MaxBytes => maxBytes;

        public int TimeoutMs => timeoutMs;

        public int Released;

        public PrereadVerdict Inspect(ReadOnlySpan<byte> data, bool final, PrereadContext context) => _inspect(data, final, context);

        public void Release(PrereadContext context) => Interlocked.Increment(ref Released);
    }

    private delegate PrereadVerdict Inspector(ReadOnlySpan<byte> data, bool final, PrereadContext context);

    private static Hook NewHook(Inspector inspect, int maxBytes = 64, int timeoutMs = 5_000) =>
        new((d, f, c) => inspect(d, f, c), maxBytes, timeoutMs);

    /// <summary>A "HDR:" prefix is the hook's; what follows it is the upstream's.</summary>
    private static PrereadVerdict StripHeader(ReadOnlySpan<byte> data, bool final, PrereadContext context) =>
        data.Length < 4 ? PrereadVerdict.NeedMore : data[..4].SequenceEqual("HDR:"u8) ? PrereadVerdict.Done(4) : PrereadVerdict.Reject(400);

    [Fact]
    public async Task A_route_hook_consumes_its_header_and_the_rest_is_replayed_to_the_upstream()
    {
        using var upstream = new RecordingServer();
        var hook = NewHook(StripHeader);
        await using var proxy = InProcessProxy.Start([InProcessProxy.Route("r", InProcessProxy.UpstreamTo(upstream.Port), hooks: hook)]);
        using var client = await proxy.ConnectAsync();
        // Sent in pieces: the hook sees "HD" first and asks for more.
        await client.SendAsync("HD");
        await Task.Delay(50);
        await client.SendAsync("R:hello");
        Assert.Equal("hello", await client.ReceiveAsync(5));
        await client.SendAsync(" again");
        Assert.Equal(" again", await client.ReceiveAsync(6));
        client.Shutdown(SocketShutdown.Send);
        Assert.Equal("", await client.ReceiveAsync(1));
        await WaitUntilAsync(() => hook.Released == 1);
    }

    [Fact]
    public async Task A_hook_that_consumes_nothing_sees_the_bytes_and_all_of_them_reach_the_upstream()
    {
        using var upstream = new RecordingServer();
        var seen = new StringBuilder();
        var hook = NewHook((data, final, _) =>
        {
            if (data.Length < 10)
            {
                return PrereadVerdict.NeedMore;
            }
            seen.Append(Encoding.ASCII.GetString(data));
            return PrereadVerdict.Done();
        });
        await using var proxy = InProcessProxy.Start([InProcessProxy.Route("r", InProcessProxy.UpstreamTo(upstream.Port), hooks: hook)]);
        using var client = await proxy.ConnectAsync();
        await client.SendAsync("0123");
        await Task.Delay(50);
        await client.SendAsync("456789abc");
        Assert.Equal("0123456789abc", await client.ReceiveAsync(13));
        Assert.Equal("0123456789abc", seen.ToString());
    }

    [Fact]
    public async Task A_rejecting_hook_closes_the_client_and_no_upstream_connection_is_made()
    {
        using var upstream = new RecordingServer();
        await using var proxy = InProcessProxy.Start([InProcessProxy.Route("r", InProcessProxy.UpstreamTo(upstream.Port), hooks: NewHook(StripHeader))]);
        using var client = await proxy.ConnectAsync();
        await client.SendAsync("BAD:hello");
        Assert.Equal("", await client.ReceiveAsync(1));
        Assert.Equal(0, upstream.Accepted);
        await WaitUntilAsync(() => proxy.ActiveConnections == 0);
    }

    [Fact]
    public async Task A_hook_still_wanting_more_at_its_size_cap_closes_the_connection()
    {
        using var upstream = new RecordingServer();
        var finals = 0;
        var hook = NewHook((data, final, _) =>
        {
            finals += final ? 1 : 0;
            return PrereadVerdict.NeedMore;
        }, maxBytes: 8);
        await using var proxy = InProcessProxy.Start([InProcessProxy.Route("r", InProcessProxy.UpstreamTo(upstream.Port), hooks: hook)]);
        using var client = await proxy.ConnectAsync();
        await client.SendAsync("more than eight bytes");
        Assert.Equal("", await client.ReceiveAsync(1));
        Assert.Equal(1, finals);
        Assert.Equal(0, upstream.Accepted);
    }

    [Fact]
    public async Task At_the_timeout_a_hook_is_asked_once_more_and_may_let_a_silent_client_through()
    {
        // MySQL-style: the server speaks first, so the client sends nothing a hook could read.
        using var upstream = new RecordingServer(banner: "220 ready\n");
        var hook = NewHook((data, final, _) => final ? PrereadVerdict.Done() : PrereadVerdict.NeedMore, timeoutMs: 200);
        await using var proxy = InProcessProxy.Start([InProcessProxy.Route("r", InProcessProxy.UpstreamTo(upstream.Port), hooks: hook)]);
        using var client = await proxy.ConnectAsync();
        Assert.Equal("220 ready\n", await client.ReceiveAsync(10));
    }

    [Fact]
    public async Task A_delaying_hook_is_asked_again_after_its_delay()
    {
        using var upstream = new RecordingServer();
        var asked = 0;
        var hook = NewHook((data, final, _) => ++asked == 1 ? PrereadVerdict.Delay(100) : PrereadVerdict.Done());
        await using var proxy = InProcessProxy.Start([InProcessProxy.Route("r", InProcessProxy.UpstreamTo(upstream.Port), hooks: hook)]);
        using var client = await proxy.ConnectAsync();
        await client.SendAsync("ping");
        Assert.Equal("ping", await client.ReceiveAsync(4));
        Assert.Equal(2, asked);
    }

    [Fact]
    public async Task A_listener_hook_runs_before_routing_and_can_change_the_address_routes_match()
    {
        using var proxied = new RecordingServer(banner: "proxied\n");
        using var other = new RecordingServer(banner: "other\n");
        // A PROXY-protocol-like header: "HDR:" names the real client, 10.9.9.9.
        var listenerHook = NewHook((data, final, context) =>
        {
            var verdict = StripHeader(data, final, context);
            if (verdict.Action == PrereadAction.Done)
            {
                context.Addresses = context.Addresses with { RemoteAddress = TestData.Ip("10.9.9.9") };
            }
            return verdict;
        });
        await using var proxy = InProcessProxy.Start(
            [
                InProcessProxy.Route("real-client", InProcessProxy.UpstreamTo(proxied.Port, "a"), remote: "10.9.9.9"),
                InProcessProxy.Route("others", InProcessProxy.UpstreamTo(other.Port, "b")),
            ],
            [listenerHook]);
        using var client = await proxy.ConnectAsync();
        await client.SendAsync("HDR:x");
        Assert.Equal("proxied\nx", await client.ReceiveAsync(9));
        Assert.Equal(0, other.Accepted);
    }

    [Fact]
    public async Task A_route_hook_can_send_the_connection_to_another_upstream()
    {
        using var routes = new RecordingServer(banner: "route's\n");
        using var chosen = new RecordingServer(banner: "chosen\n");
        var split = InProcessProxy.UpstreamTo(chosen.Port, "split");
        var hook = NewHook((data, final, context) =>
        {
            context.Upstream = split;
            return PrereadVerdict.Done();
        });
        await using var proxy = InProcessProxy.Start([InProcessProxy.Route("r", InProcessProxy.UpstreamTo(routes.Port), hooks: hook)]);
        using var client = await proxy.ConnectAsync();
        Assert.Equal("chosen\n", await client.ReceiveAsync(7));
        Assert.Equal(0, routes.Accepted);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!condition())
        {
            await Task.Delay(20, timeout.Token);
        }
    }
}
