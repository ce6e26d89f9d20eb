using System.Net;
using StreamGate.Config;

namespace StreamGate.Health;

/// <summary>
/// The health of one node under one check (<see cref="ChecksConfig"/>): shared by every upstream that lists the
/// node with the same checks, so it is probed once, and kept across configuration changes that keep both.
/// Event loops read <see cref="Healthy"/> on every pick and report connection outcomes; probes report theirs from
/// the thread pool.
/// </summary>
/// <remarks>
/// The state machine is lua-resty-healthcheck's (APISIX's checker, incr_counter): four states, and four counters
/// that count outcomes in a row. A success clears the failure counters and a failure the success counter; the
/// failure counters (tcp, timeout, http) do not clear one another. Nothing is counted towards the state a node is
/// fully in (a success on a healthy node, a failure on an unhealthy one), and a threshold of 0 counts nothing.
/// Reaching a threshold moves the node to healthy or unhealthy and leaves the counters as they are (the control API
/// shows <c>tcp_failure: 2</c> on a node two refused connects took out); short of it, a failure moves a healthy
/// node to mostly_healthy and a success an unhealthy one to mostly_unhealthy, which take traffic as healthy and
/// unhealthy do. Passive reports use the passive thresholds, probes the active ones, on the same counters.
/// </remarks>
internal sealed class NodeHealth
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private volatile int _state = (int)HealthState.Healthy;
    private volatile IPAddress? _address;
    private long _unhealthySince;
    private int _successes;
    private int _tcpFailures;
    private int _timeouts;
    private int _httpFailures;

    public NodeHealth(ChecksConfig checks, string host, int port, TimeProvider time)
    {
        Checks = checks;
        Host = host;
        Port = port;
        _time = time;
    }

    public ChecksConfig Checks { get; }

    /// <summary>The node's host as configured: an IP literal or a name.</summary>
    public string Host { get; }

    /// <summary>The node's port; probes go to <see cref="ProbePort"/>.</summary>
    public int Port { get; }

    /// <summary>checks.active.port when set, else the node's port.</summary>
    public int ProbePort => Checks.Active?.Port ?? Port;

    /// <summary>The address probes go to (null: the name did not resolve); the registry updates it when the node's name resolves anew.</summary>
    public IPAddress? Address
    {
        get => _address;
        set => _address = value;
    }

    /// <summary>Called (under no lock of the caller's) when the node turns healthy (true) or unhealthy (false), once per change.</summary>
    public Action<NodeHealth, bool, string>? Changed { get; set; }

    /// <summary>
    /// Whether the node gets new connections (healthy or mostly_healthy). Without active checks a node passive checks
    /// took out comes back after <see cref="PassiveUnhealthyConfig.RecoverAfter"/> (nginx's fail_timeout): no probe
    /// would ever bring it back. A read, and no lock, unless that time has just passed.
    /// </summary>
    public bool Healthy => IsHealthy((HealthState)_state) || RecoveredByTime();

    /// <summary>The state, as the control API names it (<see cref="HealthStates.Name"/>).</summary>
    public HealthState State
    {
        get
        {
            _ = Healthy;
            return (HealthState)_state;
        }
    }

    public HealthCounters Counters
    {
        get
        {
            lock (_lock)
            {
                return new HealthCounters(_successes, _httpFailures, _tcpFailures, _timeouts);
            }
        }
    }

    /// <summary>A proxied connection reached the node: counts towards passive.healthy.successes. Free on a healthy node.</summary>
    public void ReportConnected()
    {
        if (_state == (int)HealthState.Healthy || Checks.Passive is not { } passive)
        {
            return;
        }
        Count(healthy: true, passive.Healthy.Successes, FailureKind.Tcp, "a connection succeeded");
    }

    /// <summary>A proxied connection's connect failed (refused, reset, unreachable) or timed out.</summary>
    public void ReportConnectFailed(bool timedOut)
    {
        if (_state == (int)HealthState.Unhealthy || Checks.Passive is not { } passive)
        {
            return;
        }
        if (timedOut)
        {
            Count(healthy: false, passive.Unhealthy.Timeouts, FailureKind.Timeout, "a connect timed out");
        }
        else
        {
            Count(healthy: false, passive.Unhealthy.TcpFailures, FailureKind.Tcp, "a connect failed");
        }
    }

    /// <summary>An active probe succeeded.</summary>
    public void ReportProbeSuccess()
    {
        if (Checks.Active is { } active)
        {
            Count(healthy: true, active.Healthy.Successes, FailureKind.Tcp, "a probe succeeded");
        }
    }

    /// <summary>An active probe failed: <paramref name="kind"/> picks the counter and its threshold.</summary>
    public void ReportProbeFailure(FailureKind kind, string reason)
    {
        if (Checks.Active is not { } active)
        {
            return;
        }
        var threshold = kind switch
        {
            FailureKind.Timeout => active.Unhealthy.Timeouts,
            FailureKind.Http => active.Unhealthy.HttpFailures,
            _ => active.Unhealthy.TcpFailures,
        };
        Count(healthy: false, threshold, kind, reason);
    }

    private void Count(bool healthy, int threshold, FailureKind kind, string reason)
    {
        if (threshold <= 0)
        {
            return;
        }
        bool turned;
        int count;
        lock (_lock)
        {
            var current = (HealthState)_state;
            if (current == (healthy ? HealthState.Healthy : HealthState.Unhealthy))
            {
                return;
            }
            if (healthy)
            {
                _tcpFailures = _timeouts = _httpFailures = 0;
                count = ++_successes;
            }
            else
            {
                _successes = 0;
                count = kind switch
                {
                    FailureKind.Timeout => ++_timeouts,
                    FailureKind.Http => ++_httpFailures,
                    _ => ++_tcpFailures,
                };
            }
            var next = current;
            if (count >= threshold)
            {
                next = healthy ? HealthState.Healthy : HealthState.Unhealthy;
            }
            else if (current == HealthState.Healthy)
            {
                next = HealthState.MostlyHealthy;
            }
            else if (current == HealthState.Unhealthy)
            {
                next = HealthState.MostlyUnhealthy;
            }
            turned = IsHealthy(next) != IsHealthy(current);
            if (turned && !healthy)
            {
                Volatile.Write(ref _unhealthySince, _time.GetTimestamp());
            }
            _state = (int)next;
        }
        if (turned)
        {
            Changed?.Invoke(this, healthy, $"{reason} ({count} in a row)");
        }
    }

    private bool RecoveredByTime()
    {
        if (Checks.Active is not null || Checks.Passive is not { } passive ||
            _time.GetElapsedTime(Volatile.Read(ref _unhealthySince)).TotalSeconds < passive.Unhealthy.RecoverAfter)
        {
            return false;
        }
        lock (_lock)
        {
            if (IsHealthy((HealthState)_state))
            {
                return true;
            }
            _state = (int)HealthState.Healthy;
            _tcpFailures = _timeouts = _httpFailures = _successes = 0;
        }
        Changed?.Invoke(this, true, $"recover_after {passive.Unhealthy.RecoverAfter} s passed");
        return true;
    }

    private static bool IsHealthy(HealthState state) => state is HealthState.Healthy or HealthState.MostlyHealthy;
}

/// <summary>lua-resty-healthcheck's four target states; the first two take traffic.</summary>
internal enum HealthState
{
    Healthy,
    MostlyHealthy,
    Unhealthy,
    MostlyUnhealthy,
}

internal static class HealthStates
{
    /// <summary>The state as APISIX's control API writes it.</summary>
    public static string Name(this HealthState state) => state switch
    {
        HealthState.Healthy => "healthy",
        HealthState.MostlyHealthy => "mostly_healthy",
        HealthState.Unhealthy => "unhealthy",
        _ => "mostly_unhealthy",
    };
}

/// <summary>The four counters of a node, as the control API shows them (success, http_failure, tcp_failure, timeout_failure).</summary>
internal readonly record struct HealthCounters(int Success, int HttpFailure, int TcpFailure, int TimeoutFailure);

/// <summary>Which failure counter an outcome feeds (APISIX's tcp_failures, timeouts, http_failures).</summary>
internal enum FailureKind
{
    Tcp,
    Timeout,
    Http,
}
