using System.Net;
using StreamGate.Config;

namespace StreamGate.Health;

/// <summary>
/// The health of one node under one check (<see cref="ChecksConfig"/>): shared by every upstream that lists the
/// node with the same checks, so it is probed once, and kept across configuration changes that keep both.
/// Event loops read <see cref="Healthy"/> on every pick and report connection outcomes; probes report theirs from
/// the health checker's threads. Counters follow lua-resty-healthcheck (APISIX's checker): consecutive outcomes,
/// a success resetting the failure counters and a failure the success counter.
/// </summary>
internal sealed class NodeHealth
{
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private volatile bool _healthy = true;
    // Non-zero while any failure counter is: lets a success on a healthy node return after one read.
    private volatile int _failureStreak;
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

    public string Host { get; }

    public int Port { get; }

    /// <summary>The address probes go to; the registry updates it when the node's name resolves anew.</summary>
    public IPAddress? Address { get; set; }

    /// <summary>Called (under no lock of the caller's) when the node turns healthy (true) or unhealthy (false), once per change.</summary>
    public Action<NodeHealth, bool, string>? Changed { get; set; }

    /// <summary>
    /// Whether the node gets new connections. Without active checks a node passive checks took out comes back
    /// after <see cref="PassiveUnhealthyConfig.RecoverAfter"/> (nginx's fail_timeout): no probe would ever bring it back.
    /// </summary>
    public bool Healthy => _healthy || RecoveredByTime();

    public (int Successes, int TcpFailures, int Timeouts, int HttpFailures) Counters
    {
        get
        {
            lock (_lock)
            {
                return (_successes, _tcpFailures, _timeouts, _httpFailures);
            }
        }
    }

    /// <summary>A proxied connection reached the node. Free on a healthy node with no failures counted.</summary>
    public void ReportConnected()
    {
        if (_healthy && _failureStreak == 0)
        {
            return;
        }
        var passive = Checks.Passive;
        Success(passive is null ? 0 : passive.Healthy.Successes, "connected");
    }

    /// <summary>A proxied connection's connect failed (refused, reset, unreachable) or timed out.</summary>
    public void ReportConnectFailed(bool timedOut)
    {
        if (Checks.Passive is not { } passive)
        {
            return;
        }
        var threshold = timedOut ? passive.Unhealthy.Timeouts : passive.Unhealthy.TcpFailures;
        Failure(timedOut ? FailureKind.Timeout : FailureKind.Tcp, threshold, timedOut ? "connect timed out" : "connect failed");
    }

    /// <summary>An active probe succeeded.</summary>
    public void ReportProbeSuccess() => Success(Checks.Active?.Healthy.Successes ?? 1, "probe succeeded");

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
        Failure(kind, threshold, reason);
    }

    private void Success(int threshold, string reason)
    {
        bool turned;
        lock (_lock)
        {
            _tcpFailures = _timeouts = _httpFailures = 0;
            _failureStreak = 0;
            if (_healthy)
            {
                return;
            }
            _successes++;
            turned = threshold > 0 && _successes >= threshold;
            if (turned)
            {
                _healthy = true;
                _successes = 0;
            }
        }
        if (turned)
        {
            Changed?.Invoke(this, true, reason);
        }
    }

    private void Failure(FailureKind kind, int threshold, string reason)
    {
        bool turned;
        lock (_lock)
        {
            _successes = 0;
            var count = kind switch
            {
                FailureKind.Timeout => ++_timeouts,
                FailureKind.Http => ++_httpFailures,
                _ => ++_tcpFailures,
            };
            _failureStreak = 1;
            turned = _healthy && threshold > 0 && count >= threshold;
            if (turned)
            {
                _healthy = false;
                _unhealthySince = _time.GetTimestamp();
            }
        }
        if (turned)
        {
            Changed?.Invoke(this, false, reason);
        }
    }

    private bool RecoveredByTime()
    {
        if (Checks.Active is not null || Checks.Passive is not { } passive)
        {
            return false;
        }
        bool turned;
        lock (_lock)
        {
            if (_healthy)
            {
                return true;
            }
            turned = _time.GetElapsedTime(_unhealthySince).TotalSeconds >= passive.Unhealthy.RecoverAfter;
            if (turned)
            {
                _healthy = true;
                _tcpFailures = _timeouts = _httpFailures = _successes = 0;
                _failureStreak = 0;
            }
        }
        if (turned)
        {
            Changed?.Invoke(this, true, $"recover_after {passive.Unhealthy.RecoverAfter} s passed");
        }
        return turned;
    }
}

/// <summary>Which failure counter an outcome feeds (APISIX's tcp_failures, timeouts, http_failures).</summary>
internal enum FailureKind
{
    Tcp,
    Timeout,
    Http,
}
