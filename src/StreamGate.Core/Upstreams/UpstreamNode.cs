using System.Net;
using System.Net.Sockets;
using StreamGate.Proxy.Native;

namespace StreamGate.Upstreams;

/// <summary>
/// A node ready to connect to: its socket address is encoded once, when the configuration is applied,
/// so a connection attempt does no parsing, resolving or allocating.
/// </summary>
internal sealed class UpstreamNode
{
    public UpstreamNode(string host, int port, int weight, int priority, IPAddress? address)
    {
        Host = host;
        Port = port;
        Weight = weight;
        Priority = priority;
        Address = address;
        if (address is not null)
        {
            SocketAddress = SockAddr.Encode(new IPEndPoint(address, port), out var length);
            SocketAddressLength = length;
            Family = address.AddressFamily == AddressFamily.InterNetworkV6 ? LibC.AF_INET6 : LibC.AF_INET;
        }
        else
        {
            SocketAddress = [];
        }
        // $upstream_addr as nginx prints it.
        DisplayAddress = address is { AddressFamily: AddressFamily.InterNetworkV6 } ? $"[{address}]:{port}" : $"{address?.ToString() ?? host}:{port}";
    }

    public string Host { get; }

    public int Port { get; }

    public int Weight { get; }

    public int Priority { get; }

    /// <summary>Null when the host name did not resolve; connecting to such a node fails and the next one is tried.</summary>
    public IPAddress? Address { get; }

    /// <summary>Why <see cref="Address"/> is null (the resolver's last error for the name), for the data plane's log line.</summary>
    public string? AddressError { get; init; }

    public byte[] SocketAddress { get; }

    public int SocketAddressLength { get; }

    public int Family { get; }

    public string DisplayAddress { get; }
}
