using System.Net;
using System.Net.Sockets;

namespace StreamGate.IntegrationTests.Infrastructure;

/// <summary>Free TCP ports, chosen by the kernel at run time.</summary>
internal static class Ports
{
    public static int GetFree(IPAddress? address = null)
    {
        using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        probe.Bind(new IPEndPoint(address ?? IPAddress.Loopback, 0));
        return ((IPEndPoint)probe.LocalEndPoint!).Port;
    }

    /// <summary>A port that refuses connections: bound (so nobody else takes it) but never listening.</summary>
    public static Socket ReserveClosed(out int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        return socket;
    }
}
