using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using StreamGate.Config;
using StreamGate.Health;
using StreamGate.Tests.Logging;
using StreamGate.Upstreams;

namespace StreamGate.Tests.Health;

/// <summary>
/// The registry's probes: started by Apply with no traffic, paced by the intervals on an injected clock, stopped when
/// the upstream leaves the configuration, once per node shared by upstreams with the same checks.
/// </summary>
public class HealthRegistryTests
{
    private const int TestTimeoutMs = 30_000;

    private static ChecksConfig Checks(string type = "tcp", int healthyInterval = 1, int unhealthyInterval = 1, int concurrency = 10, string? expect = null, int httpFailures = 5) =>
        new(new ActiveCheckConfig
        {
            Type = type,
            Timeout = 3,
            Concurrency = concurrency,
            Expect = expect,
            Healthy = new ActiveHealthyConfig { Interval = healthyInterval, Successes = 1 },
            Unhealthy = new ActiveUnhealthyConfig { Interval = unhealthyInterval, TcpFailures = 2, HttpFailures = httpFailures },
        }, null);

    private static Upstream Upstream(HealthRegistry registry, string id, ChecksConfig checks, params int[] ports)
    {
        var nodes = ports.Select(p => new UpstreamNode("127.0.0.1", p, 1, 0, IPAddress.Loopback)).ToList();
        var health = ports.Select(p => registry.Get(checks, "127.0.0.1", p)).ToArray();
        return new Upstream(id, nodes, new UpstreamConfig { Nodes = [], Checks = checks }, health: health);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task ProbesStartWithTheConfigurationAndFollowTheHealthyInterval()
    {
        var clock = new ProbeClock();
        await using var registry = new HealthRegistry(new CapturingLogger(), clock);
        await using var backend = Backend.AcceptAndClose();
        registry.Apply([Upstream(registry, "u1", Checks(healthyInterval: 5), backend.Port)]);
        // No traffic, no time: the first probe is already on its way.
        await backend.WaitForAcceptedAsync(1);
        Assert.Equal(1, registry.Probing);
        // Its timeout, then the wait for the next one.
        await clock.WaitForTimersAsync(2);
        clock.Advance(TimeSpan.FromSeconds(4.9));
        Assert.Equal(2, clock.Timers);
        clock.Advance(TimeSpan.FromSeconds(0.1));
        await backend.WaitForAcceptedAsync(2);
        await clock.WaitForTimersAsync(4);
        clock.Advance(TimeSpan.FromSeconds(5));
        await backend.WaitForAcceptedAsync(3);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task AnUnhealthyNodeIsProbedAtTheUnhealthyInterval()
    {
        var clock = new ProbeClock();
        await using var registry = new HealthRegistry(new CapturingLogger(), clock);
        await using var backend = Backend.Http(500);
        var upstream = Upstream(registry, "u1", Checks(type: "http", healthyInterval: 5, unhealthyInterval: 1, httpFailures: 2), backend.Port);
        registry.Apply([upstream]);
        var health = upstream.Health![0];
        await backend.WaitForAcceptedAsync(1);
        await clock.WaitForTimersAsync(2);
        Assert.Equal(HealthState.MostlyHealthy, health.State);
        clock.Advance(TimeSpan.FromSeconds(5));
        await backend.WaitForAcceptedAsync(2);
        await clock.WaitForTimersAsync(4);
        Assert.Equal(HealthState.Unhealthy, health.State);
        Assert.Equal(new HealthCounters(0, 2, 0, 0), health.Counters);
        clock.Advance(TimeSpan.FromSeconds(1));
        await backend.WaitForAcceptedAsync(3);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task ARefusingNodeTurnsUnhealthyAndIsLoggedOnce()
    {
        var clock = new ProbeClock();
        var logger = new CapturingLogger();
        await using var registry = new HealthRegistry(logger, clock);
        using var closed = ClosedPort(out var port);
        var upstream = Upstream(registry, "u1", Checks(), port);
        registry.Apply([upstream]);
        for (var probe = 1; probe <= 5; probe++)
        {
            await clock.WaitForTimersAsync(2 * probe);
            clock.Advance(TimeSpan.FromSeconds(1));
        }
        await clock.WaitForTimersAsync(12);
        Assert.False(upstream.Health![0].Healthy);
        Assert.Equal(new HealthCounters(0, 0, 2, 0), upstream.Health[0].Counters);
        var entry = Assert.Single(logger.Entries);
        Assert.Equal(LogLevel.Warning, entry.Level);
        Assert.Contains($"127.0.0.1:{port} is unhealthy: probe failed: connection refused (2 in a row)", entry.Message, StringComparison.Ordinal);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task ProbesStopWhenTheUpstreamLeavesTheConfiguration()
    {
        var clock = new ProbeClock();
        await using var registry = new HealthRegistry(new CapturingLogger(), clock);
        await using var backend = Backend.AcceptAndClose();
        registry.Apply([Upstream(registry, "u1", Checks(), backend.Port)]);
        await backend.WaitForAcceptedAsync(1);
        await clock.WaitForTimersAsync(2);

        registry.Apply([]);
        await registry.WhenProbesStoppedAsync();
        Assert.Equal(0, registry.Probing);
        var timers = clock.Timers;
        for (var i = 0; i < 10; i++)
        {
            clock.Advance(TimeSpan.FromSeconds(1));
        }
        // The loop has ended: nothing can arm a timer or connect any more.
        Assert.Equal(timers, clock.Timers);
        Assert.Equal(1, backend.Accepted);
        Assert.Empty(registry.All());
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task ANodeOfTwoUpstreamsWithTheSameChecksIsProbedOnce()
    {
        var clock = new ProbeClock();
        await using var registry = new HealthRegistry(new CapturingLogger(), clock);
        await using var backend = Backend.AcceptAndClose();
        // Equal checks, separate objects: as two upstreams parsed from the same text.
        var a = Upstream(registry, "a", Checks(), backend.Port);
        var b = Upstream(registry, "b", Checks(), backend.Port);
        Assert.Same(a.Health![0], b.Health![0]);
        registry.Apply([a, b]);
        Assert.Equal(1, registry.Probing);
        for (var interval = 1; interval <= 3; interval++)
        {
            await backend.WaitForAcceptedAsync(interval);
            await clock.WaitForTimersAsync(2 * interval);
            Assert.Equal(interval, backend.Accepted);
            clock.Advance(TimeSpan.FromSeconds(1));
        }
        await backend.WaitForAcceptedAsync(4);
        Assert.Equal(4, backend.Accepted);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task DifferentChecksProbeTheNodeEach()
    {
        var clock = new ProbeClock();
        await using var registry = new HealthRegistry(new CapturingLogger(), clock);
        await using var backend = Backend.AcceptAndClose();
        registry.Apply([Upstream(registry, "a", Checks(healthyInterval: 1), backend.Port), Upstream(registry, "b", Checks(healthyInterval: 2), backend.Port)]);
        Assert.Equal(2, registry.Probing);
        await backend.WaitForAcceptedAsync(2);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task AnApplyThatKeepsTheNodeKeepsItsLoop()
    {
        var clock = new ProbeClock();
        await using var registry = new HealthRegistry(new CapturingLogger(), clock);
        await using var backend = Backend.AcceptAndClose();
        registry.Apply([Upstream(registry, "u1", Checks(healthyInterval: 10), backend.Port)]);
        await backend.WaitForAcceptedAsync(1);
        await clock.WaitForTimersAsync(2);
        // A rebuilt upstream (another change) with the same checks and node: the same health, the same loop.
        registry.Apply([Upstream(registry, "u1", Checks(healthyInterval: 10), backend.Port)]);
        Assert.Equal(1, registry.Probing);
        Assert.Equal(2, clock.Timers);
        Assert.Equal(1, backend.Accepted);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task ConcurrencyBoundsTheProbesOfOneCheckInFlight()
    {
        var clock = new ProbeClock();
        await using var registry = new HealthRegistry(new CapturingLogger(), clock);
        await using var one = Backend.Silent();
        await using var two = Backend.Silent();
        await using var three = Backend.Silent();
        registry.Apply([Upstream(registry, "u1", Checks(concurrency: 2, expect: "never"), one.Port, two.Port, three.Port)]);
        Assert.Equal(3, registry.Probing);
        await clock.WaitForTimersAsync(2);
        var accepted = () => one.Accepted + two.Accepted + three.Accepted;
        while (accepted() < 2)
        {
            await Task.Delay(5);
        }
        // The third waits for a slot: no probe of it has started (each start arms its timeout).
        await Task.Delay(200);
        Assert.Equal(2, clock.Timers);
        Assert.Equal(2, accepted());
        clock.Advance(TimeSpan.FromSeconds(3));
        while (accepted() < 3)
        {
            await Task.Delay(5);
        }
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task ApplyGivesProbesTheNodesNewAddress()
    {
        await using var registry = new HealthRegistry(new CapturingLogger(), new ProbeClock());
        var checks = Checks();
        var health = registry.Get(checks, "db.internal", 5432);
        Assert.Null(health.Address);
        var node = new UpstreamNode("db.internal", 5432, 1, 0, IPAddress.Parse("10.0.0.7"));
        registry.Apply([new Upstream("u1", [node], new UpstreamConfig { Nodes = [], Checks = checks }, health: [health])]);
        Assert.Equal(IPAddress.Parse("10.0.0.7"), health.Address);
        await registry.DisposeAsync();
        Assert.Equal(0, registry.Probing);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task PassiveOnlyChecksAreNotProbed()
    {
        await using var registry = new HealthRegistry(new CapturingLogger(), new ProbeClock());
        var checks = new ChecksConfig(null, new PassiveCheckConfig());
        var health = registry.Get(checks, "127.0.0.1", 80);
        registry.Apply([new Upstream("u1", [new UpstreamNode("127.0.0.1", 80, 1, 0, IPAddress.Loopback)], new UpstreamConfig { Nodes = [], Checks = checks }, health: [health])]);
        Assert.Equal(0, registry.Probing);
        Assert.Single(registry.All());
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task DisposeStopsEveryProbeAndLaterAppliesStartNone()
    {
        var clock = new ProbeClock();
        var registry = new HealthRegistry(new CapturingLogger(), clock);
        await using var backend = Backend.Silent();
        var upstream = Upstream(registry, "u1", Checks(expect: "never"), backend.Port);
        registry.Apply([upstream]);
        await backend.WaitForAcceptedAsync(1);
        // Disposing waits for the probe in flight, which stops at once.
        await registry.DisposeAsync();
        Assert.Equal(0, registry.Probing);
        registry.Apply([upstream]);
        Assert.Equal(0, registry.Probing);
        Assert.Equal(1, backend.Accepted);
    }

    private static Socket ClosedPort(out int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        return socket;
    }
}
