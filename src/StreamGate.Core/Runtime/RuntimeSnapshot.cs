using StreamGate.Config;
using StreamGate.Routing;
using StreamGate.Upstreams;

namespace StreamGate.Runtime;

/// <summary>
/// One immutable, fully resolved configuration. A connection takes the current snapshot once, when it is
/// accepted, and keeps it to its end; a reload builds a new snapshot and swaps it in whole.
/// </summary>
internal sealed class RuntimeSnapshot
{
    public RuntimeSnapshot(RouteTable routes, ConfigSet source, long version, IReadOnlyList<SkippedObject>? skipped = null, IReadOnlyCollection<Upstream>? upstreams = null)
    {
        Routes = routes;
        Source = source;
        Version = version;
        Skipped = skipped ?? [];
        Upstreams = upstreams ?? [];
        AppliedAt = DateTimeOffset.UtcNow;
    }

    public static RuntimeSnapshot Empty { get; } = new(RouteTable.Empty, ConfigSet.Empty, 0);

    public RouteTable Routes { get; }

    /// <summary>Every upstream served, named or inline, used by a route or not (named ones are health-checked from the start).</summary>
    public IReadOnlyCollection<Upstream> Upstreams { get; }

    public ConfigSet Source { get; }

    public long Version { get; }

    /// <summary>Objects of the source that this snapshot does not serve (a store applies the rest without them), in key order.</summary>
    public IReadOnlyList<SkippedObject> Skipped { get; }

    public DateTimeOffset AppliedAt { get; }
}

/// <summary>A stored object left out of the served configuration: its store key and why.</summary>
internal sealed record SkippedObject(string Key, string Reason)
{
    public override string ToString() => $"{Key}: {Reason}";
}

/// <summary>A configuration that was not applied at all (a file refused whole, a build that failed): when, for which version if known, and why.</summary>
internal sealed record ConfigRejection(DateTimeOffset At, long? Version, string Reason);

/// <summary>Holds the snapshot new connections use; the swap is a single reference write.</summary>
internal sealed class SnapshotHolder
{
    private RuntimeSnapshot _current = RuntimeSnapshot.Empty;

    public SnapshotHolder(UpstreamRuntime? upstreams = null) => Upstreams = upstreams ?? new UpstreamRuntime();

    /// <summary>Balancer state and health of the served upstreams, kept across snapshots; builders take from it.</summary>
    public UpstreamRuntime Upstreams { get; }
    private ConfigRejection? _rejection;
    private long _sourceReads;
    private long _sourceChecks;

    public RuntimeSnapshot Current => Volatile.Read(ref _current);

    /// <summary>What was applied and refused, as Prometheus metrics (served by the control API's /v1/metrics).</summary>
    public ConfigMetrics Metrics { get; } = new();

    /// <summary>The last configuration refused since <see cref="Current"/> was applied; null when the newest one is served.</summary>
    public ConfigRejection? Rejection => Volatile.Read(ref _rejection);

    /// <summary>How many times the source's content has been read in full (apisix.yaml: reads of a changed file); for the control API.</summary>
    public long SourceReads => Interlocked.Read(ref _sourceReads);

    /// <summary>How many times the source was looked at (apisix.yaml: each poll), read or not; lets a caller wait for polls to pass.</summary>
    public long SourceChecks => Interlocked.Read(ref _sourceChecks);

    public event Action<RuntimeSnapshot>? Applied;

    /// <param name="keepRejection">
    /// True when the snapshot serves the same configuration as before on fresh DNS answers: a newer configuration
    /// refused meanwhile is still the newest one and stays reported.
    /// </param>
    public void Apply(RuntimeSnapshot snapshot, bool keepRejection = false)
    {
        Volatile.Write(ref _current, snapshot);
        Upstreams.Apply(snapshot.Upstreams);
        if (!keepRejection)
        {
            Volatile.Write(ref _rejection, null);
        }
        Metrics.Applied(snapshot);
        Applied?.Invoke(snapshot);
    }

    /// <summary>Records that a newer configuration was refused; <see cref="Current"/> keeps serving.</summary>
    public void Reject(long? version, string reason)
    {
        Volatile.Write(ref _rejection, new ConfigRejection(DateTimeOffset.UtcNow, version, reason));
        Metrics.Rejected();
    }

    public void CountSourceRead() => Interlocked.Increment(ref _sourceReads);

    public void CountSourceCheck() => Interlocked.Increment(ref _sourceChecks);
}
