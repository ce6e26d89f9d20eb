using System.Runtime.CompilerServices;
using StreamGate.Config;
using StreamGate.Routing;
using StreamGate.Runtime;

namespace StreamGate.Tests.Proxy;

public sealed class SnapshotLifetimeTests
{
    [Fact]
    public async Task A_long_lived_connection_does_not_keep_its_configuration_version_alive()
    {
        using var upstream = new RecordingServer();
        var route = InProcessProxy.Route("r", InProcessProxy.UpstreamTo(upstream.Port));
        await using var proxy = InProcessProxy.Start([route]);
        using var client = await proxy.ConnectAsync();
        await client.SendAsync("one");
        Assert.Equal("one", await client.ReceiveAsync(3));

        var first = ReplaceTable(proxy.Snapshots, route);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(first.IsAlive, "the first snapshot's route table is still reachable from the open connection");
        await client.SendAsync("two");
        Assert.Equal("two", await client.ReceiveAsync(3));
    }

    /// <summary>Applies a new version and returns a weak reference to the route table it replaced.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference ReplaceTable(SnapshotHolder snapshots, StreamRoute route)
    {
        var previous = new WeakReference(snapshots.Current.Routes);
        snapshots.Apply(new RuntimeSnapshot(new RouteTable([route]), ConfigSet.Empty, 2));
        return previous;
    }
}
