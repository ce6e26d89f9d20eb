using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StreamGate.Health;

namespace StreamGate.Upstreams;

/// <summary>
/// What outlives a snapshot about upstreams: each node's balancer state (<see cref="NodeStates"/>) and health
/// (<see cref="HealthRegistry"/>). One per process, held by the <see cref="Runtime.SnapshotHolder"/>: builders take
/// state from it and every applied snapshot tells it which upstreams are served now.
/// </summary>
internal sealed class UpstreamRuntime : IAsyncDisposable
{
    public UpstreamRuntime(ILogger? logger = null, TimeProvider? time = null)
    {
        Health = new HealthRegistry(logger ?? NullLogger.Instance, time);
    }

    public NodeStates States { get; } = new();

    public HealthRegistry Health { get; }

    /// <summary>The snapshot's upstreams are the ones served now: keep their state, start their checks, forget the rest.</summary>
    public void Apply(IReadOnlyCollection<Upstream> upstreams)
    {
        States.Retain(upstreams);
        Health.Apply(upstreams);
    }

    /// <summary>Stops the active health checks (at shutdown).</summary>
    public ValueTask DisposeAsync() => Health.DisposeAsync();
}
