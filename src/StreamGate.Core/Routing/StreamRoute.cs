using StreamGate.Proxy.Preread;
using StreamGate.Upstreams;

namespace StreamGate.Routing;

/// <summary>A compiled stream route: its match fields (absent ones match anything) and the upstream it serves.</summary>
internal sealed class StreamRoute
{
    public StreamRoute(string id, IpPrefix? remoteAddress, IpPrefix? serverAddress, int serverPort, Upstream upstream)
    {
        Id = id;
        RemoteAddress = remoteAddress;
        ServerAddress = serverAddress;
        ServerPort = serverPort;
        Upstream = upstream;
    }

    public string Id { get; }

    public IpPrefix? RemoteAddress { get; }

    public IpPrefix? ServerAddress { get; }

    /// <summary>0 = any port.</summary>
    public int ServerPort { get; }

    public Upstream Upstream { get; }

    /// <summary>Hooks run after this route matched, before connecting (the route's stream plugins).</summary>
    public IPrereadHook[] PrereadHooks { get; init; } = [];

    public bool Matches(in ConnectionAddresses connection) =>
        (ServerPort == 0 || ServerPort == connection.ServerPort) &&
        (RemoteAddress is not { } remote || remote.Contains(connection.RemoteAddress)) &&
        (ServerAddress is not { } server || server.Contains(connection.ServerAddress));
}
