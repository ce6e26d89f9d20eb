using StreamGate.Config;
using StreamGate.Routing;

namespace StreamGate.Runtime;

/// <summary>
/// One immutable, fully resolved configuration. A connection takes the current snapshot once, when it is
/// accepted, and keeps it to its end; a reload builds a new snapshot and swaps it in whole.
/// </summary>
internal sealed class RuntimeSnapshot
{
    public RuntimeSnapshot(RouteTable routes, ConfigSet source, long version)
    {
        Routes = routes;
        Source = source;
        Version = version;
        AppliedAt = DateTimeOffset.UtcNow;
    }

    public static RuntimeSnapshot Empty { get; } = new(RouteTable.Empty, ConfigSet.Empty, 0);

    public RouteTable Routes { get; }

    public ConfigSet Source { get; }

    public long Version { get; }

    public DateTimeOffset AppliedAt { get; }
}

/// <summary>Holds the snapshot new connections use; the swap is a single reference write.</summary>
internal sealed class SnapshotHolder
{
    private RuntimeSnapshot _current = RuntimeSnapshot.Empty;

    public RuntimeSnapshot Current => Volatile.Read(ref _current);

    public event Action<RuntimeSnapshot>? Applied;

    public void Apply(RuntimeSnapshot snapshot)
    {
        Volatile.Write(ref _current, snapshot);
        Applied?.Invoke(snapshot);
    }
}
