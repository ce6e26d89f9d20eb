using Microsoft.Extensions.Logging;
using StreamGate.Config;
using StreamGate.Upstreams;

namespace StreamGate.Health;

/// <summary>
/// Every node health the served configuration uses, one per distinct (checks, host, port): a node shared by
/// several upstreams with the same checks is probed once, and its health survives a change that keeps it.
/// Owned by the process (not by a snapshot); the snapshot builder asks it for each node, and each applied
/// snapshot tells it which healths are still in use (<see cref="Apply"/>), which starts and stops their active
/// probes (<see cref="ActiveHealthChecker"/>).
/// </summary>
internal sealed partial class HealthRegistry : IAsyncDisposable
{
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    // Serializes Apply: two sources applying at once must not leave the probes of the older one running.
    private readonly Lock _applyLock = new();
    private readonly ActiveHealthChecker _checker;
    private Dictionary<HealthKey, NodeHealth> _healths = [];

    public HealthRegistry(ILogger logger, TimeProvider? time = null)
    {
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _checker = new ActiveHealthChecker(logger, _time);
    }

    /// <summary>How many nodes are being probed now.</summary>
    public int Probing => _checker.Probing;

    /// <summary>The health of <paramref name="host"/>:<paramref name="port"/> under <paramref name="checks"/>, kept if it exists.</summary>
    public NodeHealth Get(ChecksConfig checks, string host, int port)
    {
        var key = new HealthKey(checks, host, port);
        lock (_lock)
        {
            if (!_healths.TryGetValue(key, out var health))
            {
                health = new NodeHealth(checks, host, port, _time) { Changed = LogChange };
                _healths[key] = health;
            }
            return health;
        }
    }

    /// <summary>
    /// Keeps the healths that <paramref name="upstreams"/> (every upstream of the applied snapshot) use and forgets
    /// the others; probes the kept ones with active checks and stops probing the rest. Old snapshots' connections
    /// keep their references; nothing reports to a forgotten health but them.
    /// </summary>
    public void Apply(IEnumerable<Upstream> upstreams)
    {
        lock (_applyLock)
        {
            var used = new Dictionary<HealthKey, NodeHealth>();
            foreach (var upstream in upstreams)
            {
                if (upstream.Health is not { } healths)
                {
                    continue;
                }
                for (var i = 0; i < healths.Length; i++)
                {
                    var health = healths[i];
                    health.Address = upstream.Nodes[i].Address;
                    used[new HealthKey(health.Checks, health.Host, health.Port)] = health;
                }
            }
            lock (_lock)
            {
                _healths = used;
            }
            _checker.Sync(used.Values);
        }
    }

    /// <summary>Completes when the probes of every health no longer in use have ended.</summary>
    public Task WhenProbesStoppedAsync() => _checker.WhenStoppedAsync();

    /// <summary>Stops every probe (the gateway is shutting down); waits for the probes in flight to end.</summary>
    public ValueTask DisposeAsync() => _checker.DisposeAsync();

    /// <summary>Every health in use, for the control API.</summary>
    public IReadOnlyList<NodeHealth> All()
    {
        lock (_lock)
        {
            return [.. _healths.Values];
        }
    }

    /// <summary>
    /// A passive report can turn a node on an event loop: the line is written from the thread pool, so no logger
    /// provider's work (or a full console queue) ever runs on the loop. A change is rare; its one work item is fine.
    /// </summary>
    private void LogChange(NodeHealth health, bool healthy, string reason) =>
        ThreadPool.UnsafeQueueUserWorkItem(
            static change =>
            {
                var (logger, health, healthy, reason) = change;
                if (healthy)
                {
                    Log.NodeHealthy(logger, health.Host, health.Port, reason);
                }
                else
                {
                    Log.NodeUnhealthy(logger, health.Host, health.Port, reason);
                }
            },
            (_logger, health, healthy, reason),
            preferLocal: false);

    private readonly record struct HealthKey(ChecksConfig Checks, string Host, int Port);

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Information, Message = "upstream node {Host}:{Port} is healthy again ({Reason})")]
        public static partial void NodeHealthy(ILogger logger, string host, int port, string reason);

        [LoggerMessage(Level = LogLevel.Warning, Message = "upstream node {Host}:{Port} is unhealthy: {Reason}; it gets no new connections")]
        public static partial void NodeUnhealthy(ILogger logger, string host, int port, string reason);
    }
}
