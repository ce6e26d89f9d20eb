using Microsoft.Extensions.Logging;
using StreamGate.Config;

namespace StreamGate.Health;

/// <summary>
/// Runs the active probes: one loop per node health that has <see cref="ChecksConfig.Active"/>, an async task on
/// the thread pool (never an event loop), from the moment the registry is told the health is in use until it is
/// told it is not (<see cref="Sync"/>) or disposed. Beyond APISIX, which creates a checker on an upstream's first
/// request (apache/apisix#8889, #10826), probing starts with the configuration, with no traffic needed.
/// </summary>
/// <remarks>
/// A loop probes at once, then waits healthy.interval while the node takes traffic (healthy, mostly_healthy) and
/// unhealthy.interval while it does not, counted from the start of the last probe; a probe that takes longer than
/// the interval is followed by the next at once, never overlapped. Probes of one check (equal
/// <see cref="ChecksConfig"/>) share a semaphore of <c>concurrency</c> slots: at most that many in flight.
/// </remarks>
internal sealed partial class ActiveHealthChecker : IAsyncDisposable
{
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private readonly Dictionary<NodeHealth, Loop> _loops = new(ReferenceEqualityComparer.Instance);
    private readonly Dictionary<ChecksConfig, SemaphoreSlim> _gates = [];
    private readonly List<Task> _stopping = [];
    private bool _disposed;

    public ActiveHealthChecker(ILogger logger, TimeProvider time)
    {
        _logger = logger;
        _time = time;
    }

    /// <summary>How many nodes are being probed.</summary>
    public int Probing
    {
        get
        {
            lock (_lock)
            {
                return _loops.Count;
            }
        }
    }

    /// <summary>
    /// Probes exactly <paramref name="healths"/> (those with active checks): starts the new ones' loops and stops the
    /// loops of the rest. A health kept keeps its loop, so its interval does not restart on a configuration change.
    /// </summary>
    public void Sync(IEnumerable<NodeHealth> healths)
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            var wanted = new HashSet<NodeHealth>(ReferenceEqualityComparer.Instance);
            foreach (var health in healths)
            {
                if (health.Checks.Active is not null)
                {
                    wanted.Add(health);
                }
            }
            foreach (var health in _loops.Keys.Where(h => !wanted.Contains(h)).ToList())
            {
                Stop(_loops[health]);
                _loops.Remove(health);
            }
            var gates = new Dictionary<ChecksConfig, SemaphoreSlim>();
            foreach (var health in wanted)
            {
                if (!gates.TryGetValue(health.Checks, out var gate))
                {
                    // A check whose loops all stopped is forgotten; its last probes keep the semaphore they hold.
                    gate = _gates.GetValueOrDefault(health.Checks) ?? new SemaphoreSlim(health.Checks.Active!.Concurrency);
                    gates[health.Checks] = gate;
                }
                if (!_loops.ContainsKey(health))
                {
                    var stop = new CancellationTokenSource();
                    _loops[health] = new Loop(stop, Task.Run(() => RunAsync(health, gate, stop.Token)));
                }
            }
            _gates.Clear();
            foreach (var (checks, gate) in gates)
            {
                _gates[checks] = gate;
            }
            _stopping.RemoveAll(t => t.IsCompleted);
        }
    }

    /// <summary>Completes when every loop stopped so far has ended (its last probe closed): tests wait on it.</summary>
    public Task WhenStoppedAsync()
    {
        lock (_lock)
        {
            return Task.WhenAll(_stopping);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task stopped;
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            foreach (var loop in _loops.Values)
            {
                Stop(loop);
            }
            _loops.Clear();
            stopped = Task.WhenAll(_stopping);
        }
        await stopped.ConfigureAwait(false);
    }

    private void Stop(Loop loop)
    {
        loop.Stop.Cancel();
        _stopping.Add(loop.Task.ContinueWith(static (_, state) => ((CancellationTokenSource)state!).Dispose(), loop.Stop, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default));
    }

    private async Task RunAsync(NodeHealth health, SemaphoreSlim gate, CancellationToken stop)
    {
        var active = health.Checks.Active!;
        var failedBefore = false;
        try
        {
            while (!stop.IsCancellationRequested)
            {
                var started = _time.GetTimestamp();
                await gate.WaitAsync(stop).ConfigureAwait(false);
                try
                {
                    var result = await HealthProbe.RunAsync(health, _time, stop).ConfigureAwait(false);
                    result.ReportTo(health);
                    failedBefore = false;
                }
                catch (Exception e) when (!stop.IsCancellationRequested && e is not OutOfMemoryException)
                {
                    // A probe's own fault, not the node's: nothing is counted, and it is said once per run of them.
                    if (!failedBefore)
                    {
                        ProbeCrashed(_logger, health.Host, health.ProbePort, e);
                        failedBefore = true;
                    }
                }
                finally
                {
                    gate.Release();
                }
                var interval = TimeSpan.FromSeconds(health.Healthy ? active.Healthy.Interval : active.Unhealthy.Interval);
                var wait = interval - _time.GetElapsedTime(started);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, _time, stop).ConfigureAwait(false);
                }
            }
        }
        catch (Exception) when (stop.IsCancellationRequested)
        {
            // Stopped: the upstream left the configuration, or the gateway is shutting down.
        }
    }

    private sealed record Loop(CancellationTokenSource Stop, Task Task);

    [LoggerMessage(Level = LogLevel.Error, Message = "health probe of {Host}:{Port} failed unexpectedly; nothing is counted against the node")]
    private static partial void ProbeCrashed(ILogger logger, string host, int port, Exception exception);
}
