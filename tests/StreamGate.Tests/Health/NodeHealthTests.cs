using StreamGate.Config;
using StreamGate.Health;

namespace StreamGate.Tests.Health;

/// <summary>NodeHealth against lua-resty-healthcheck's incr_counter: consecutive counters, four states, passive and active thresholds.</summary>
public class NodeHealthTests
{
    private static readonly ActiveCheckConfig Active = new()
    {
        Type = "tcp",
        Healthy = new ActiveHealthyConfig { Successes = 2 },
        Unhealthy = new ActiveUnhealthyConfig { TcpFailures = 2, Timeouts = 3, HttpFailures = 2 },
    };

    private static readonly PassiveCheckConfig Passive = new()
    {
        Healthy = new PassiveHealthyConfig { Successes = 3 },
        Unhealthy = new PassiveUnhealthyConfig { TcpFailures = 2, Timeouts = 2, RecoverAfter = 10 },
    };

    private static (NodeHealth Health, List<bool> Changes) New(ActiveCheckConfig? active, PassiveCheckConfig? passive, TimeProvider? time = null)
    {
        var changes = new List<bool>();
        var health = new NodeHealth(new ChecksConfig(active, passive), "127.0.0.1", 80, time ?? TimeProvider.System);
        health.Changed = (_, healthy, _) => changes.Add(healthy);
        return (health, changes);
    }

    [Fact]
    public void ANewNodeIsHealthyWithZeroCounters()
    {
        var (health, _) = New(Active, null);
        Assert.True(health.Healthy);
        Assert.Equal(HealthState.Healthy, health.State);
        Assert.Equal(default, health.Counters);
    }

    [Fact]
    public void FailuresInARowTakeANodeOutAndTheCounterStays()
    {
        var (health, changes) = New(Active, null);
        health.ReportProbeFailure(FailureKind.Tcp, "refused");
        Assert.True(health.Healthy);
        Assert.Equal(HealthState.MostlyHealthy, health.State);
        health.ReportProbeFailure(FailureKind.Tcp, "refused");
        Assert.False(health.Healthy);
        Assert.Equal(HealthState.Unhealthy, health.State);
        // As APISIX's control API shows it after two refusals (healthcheck.t TEST 1): tcp_failure 2.
        Assert.Equal(new HealthCounters(0, 0, 2, 0), health.Counters);
        // Failures on an unhealthy node are not counted.
        health.ReportProbeFailure(FailureKind.Tcp, "refused");
        Assert.Equal(new HealthCounters(0, 0, 2, 0), health.Counters);
        Assert.Equal([false], changes);
    }

    [Fact]
    public void ASuccessBreaksTheRow()
    {
        var (health, changes) = New(Active, null);
        health.ReportProbeFailure(FailureKind.Tcp, "refused");
        health.ReportProbeSuccess();
        Assert.Equal(new HealthCounters(1, 0, 0, 0), health.Counters);
        // Still mostly_healthy: lua-resty-healthcheck leaves it so until healthy.successes successes in a row.
        Assert.Equal(HealthState.MostlyHealthy, health.State);
        health.ReportProbeFailure(FailureKind.Tcp, "refused");
        Assert.True(health.Healthy);
        Assert.Equal(new HealthCounters(0, 0, 1, 0), health.Counters);
        health.ReportProbeSuccess();
        health.ReportProbeSuccess();
        Assert.Equal(HealthState.Healthy, health.State);
        Assert.Empty(changes);
    }

    [Fact]
    public void FailureKindsCountApartAndEachHasItsThreshold()
    {
        var (health, _) = New(Active, null);
        health.ReportProbeFailure(FailureKind.Tcp, "refused");
        health.ReportProbeFailure(FailureKind.Timeout, "timed out");
        health.ReportProbeFailure(FailureKind.Timeout, "timed out");
        Assert.True(health.Healthy);
        Assert.Equal(new HealthCounters(0, 0, 1, 2), health.Counters);
        health.ReportProbeFailure(FailureKind.Timeout, "timed out");
        Assert.False(health.Healthy);
        Assert.Equal(new HealthCounters(0, 0, 1, 3), health.Counters);
    }

    [Fact]
    public void SuccessesInARowBringANodeBack()
    {
        var (health, changes) = New(Active, null);
        health.ReportProbeFailure(FailureKind.Http, "HTTP 500");
        health.ReportProbeFailure(FailureKind.Http, "HTTP 500");
        Assert.False(health.Healthy);
        health.ReportProbeSuccess();
        Assert.Equal(HealthState.MostlyUnhealthy, health.State);
        Assert.False(health.Healthy);
        Assert.Equal(new HealthCounters(1, 0, 0, 0), health.Counters);
        health.ReportProbeSuccess();
        Assert.True(health.Healthy);
        Assert.Equal(HealthState.Healthy, health.State);
        Assert.Equal(new HealthCounters(2, 0, 0, 0), health.Counters);
        Assert.Equal([false, true], changes);
    }

    [Fact]
    public void WithActiveAndPassivePassiveTakesOutAndProbesBringBack()
    {
        var clock = new ManualClock();
        var (health, changes) = New(Active, Passive, clock);
        health.ReportConnectFailed(timedOut: false);
        health.ReportConnectFailed(timedOut: false);
        Assert.False(health.Healthy);
        // recover_after is for passive checks alone: with probes, probes decide.
        clock.Advance(TimeSpan.FromSeconds(60));
        Assert.False(health.Healthy);
        health.ReportProbeSuccess();
        health.ReportProbeSuccess();
        Assert.True(health.Healthy);
        Assert.Equal([false, true], changes);
    }

    [Fact]
    public void PassiveAloneRecoversAfterRecoverAfter()
    {
        var clock = new ManualClock();
        var (health, changes) = New(null, Passive, clock);
        health.ReportConnectFailed(timedOut: true);
        health.ReportConnectFailed(timedOut: true);
        Assert.False(health.Healthy);
        Assert.Equal(new HealthCounters(0, 0, 0, 2), health.Counters);
        clock.Advance(TimeSpan.FromSeconds(9.9));
        Assert.False(health.Healthy);
        Assert.Equal(HealthState.Unhealthy, health.State);
        clock.Advance(TimeSpan.FromSeconds(0.2));
        Assert.True(health.Healthy);
        Assert.Equal(HealthState.Healthy, health.State);
        Assert.Equal(default, health.Counters);
        Assert.Equal([false, true], changes);
        // Counted anew: one failure is not enough again.
        health.ReportConnectFailed(timedOut: false);
        Assert.True(health.Healthy);
    }

    [Fact]
    public void PassiveSuccessesBringANodeBackWhenEveryNodeIsTriedAnyway()
    {
        var (health, changes) = New(null, Passive);
        health.ReportConnectFailed(timedOut: false);
        health.ReportConnectFailed(timedOut: false);
        Assert.False(health.Healthy);
        health.ReportConnected();
        health.ReportConnected();
        Assert.False(health.Healthy);
        health.ReportConnected();
        Assert.True(health.Healthy);
        Assert.Equal([false, true], changes);
    }

    [Fact]
    public void ZeroThresholdsCountNothing()
    {
        var passive = new PassiveCheckConfig { Healthy = new PassiveHealthyConfig { Successes = 0 }, Unhealthy = new PassiveUnhealthyConfig { TcpFailures = 0, Timeouts = 1 } };
        var (health, _) = New(null, passive);
        for (var i = 0; i < 10; i++)
        {
            health.ReportConnectFailed(timedOut: false);
        }
        Assert.Equal(HealthState.Healthy, health.State);
        Assert.Equal(default, health.Counters);
        health.ReportConnectFailed(timedOut: true);
        Assert.False(health.Healthy);
        health.ReportConnected();
        Assert.Equal(new HealthCounters(0, 0, 0, 1), health.Counters);
    }

    [Fact]
    public void PassiveReportsWithoutPassiveChecksCountNothing()
    {
        var (health, _) = New(Active, null);
        health.ReportConnectFailed(timedOut: false);
        health.ReportConnectFailed(timedOut: false);
        health.ReportConnectFailed(timedOut: true);
        Assert.Equal(HealthState.Healthy, health.State);
    }

    [Fact]
    public void ProbeReportsWithoutActiveChecksCountNothing()
    {
        var (health, _) = New(null, Passive);
        health.ReportProbeFailure(FailureKind.Tcp, "refused");
        health.ReportProbeFailure(FailureKind.Tcp, "refused");
        Assert.Equal(HealthState.Healthy, health.State);
    }

    [Fact]
    public void ConnectedOnAHealthyNodeAllocatesNothing()
    {
        var (health, _) = New(Active, Passive);
        health.ReportConnected();
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 1000; i++)
        {
            health.ReportConnected();
            _ = health.Healthy;
        }
        Assert.Equal(before, GC.GetAllocatedBytesForCurrentThread());
    }

    [Fact]
    public void StateNamesAreApisixs()
    {
        Assert.Equal("healthy", HealthState.Healthy.Name());
        Assert.Equal("mostly_healthy", HealthState.MostlyHealthy.Name());
        Assert.Equal("unhealthy", HealthState.Unhealthy.Name());
        Assert.Equal("mostly_unhealthy", HealthState.MostlyUnhealthy.Name());
    }

    [Fact]
    public void ProbePortIsActivePortWhenSet()
    {
        Assert.Equal(80, new NodeHealth(new ChecksConfig(Active, null), "h", 80, TimeProvider.System).ProbePort);
        Assert.Equal(9000, new NodeHealth(new ChecksConfig(Active with { Port = 9000 }, null), "h", 80, TimeProvider.System).ProbePort);
    }
}
