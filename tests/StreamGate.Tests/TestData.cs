using System.Net;
using StreamGate.Config;
using StreamGate.Routing;
using StreamGate.Upstreams;

namespace StreamGate.Tests;

/// <summary>Small builders for addresses, nodes and upstreams.</summary>
internal static class TestData
{
    public static IpAddr Ip(string text)
    {
        Assert.True(IpAddr.TryParse(text, out var address), $"\"{text}\" should parse");
        return address;
    }

    public static IpPrefix Prefix(string text)
    {
        Assert.True(IpPrefix.TryParse(text, out var prefix), $"\"{text}\" should parse");
        return prefix;
    }

    public static ConnectionAddresses Connection(string remote, string server, int serverPort, int remotePort = 40000) =>
        new(Ip(remote), remotePort, Ip(server), serverPort);

    public static UpstreamNode Node(int port, int weight = 1, int priority = 0) =>
        new("127.0.0.1", port, weight, priority, IPAddress.Loopback);

    public static Upstream NewUpstream(string id, params UpstreamNode[] nodes) => NewUpstream(id, new UpstreamConfig { Nodes = [] }, nodes);

    public static Upstream NewUpstream(string id, UpstreamConfig config, params UpstreamNode[] nodes) => new(id, nodes, config);

    public static StreamRoute Route(string id, string? remote = null, string? server = null, int port = 0) =>
        new(id, remote is null ? null : Prefix(remote), server is null ? null : Prefix(server), port, NewUpstream("u-" + id, Node(1)));
}
