using System.Net;
using System.Net.Sockets;

namespace StreamGate.IntegrationTests.Infrastructure;

/// <summary>
/// Free TCP ports for listeners. Tests run in parallel and the gateway refuses a port another process listens on,
/// so a port is handed out once per test run, and taken below the kernel's ephemeral range when there is room:
/// a port the kernel chose for bind(0) can meanwhile become the source port of some test's outgoing connection.
/// </summary>
internal static class Ports
{
    private static readonly HashSet<int> HandedOut = [];
    private static readonly Lock Gate = new();

    public static int GetFree(IPAddress? address = null)
    {
        address ??= IPAddress.Loopback;
        lock (Gate)
        {
            var (low, _) = EphemeralRange();
            var first = Math.Max(1024, low - 12_000);
            for (var attempt = 0; attempt < 200 && first < low; attempt++)
            {
                var port = Random.Shared.Next(first, low);
                if (!HandedOut.Contains(port) && CanBind(address, port))
                {
                    HandedOut.Add(port);
                    return port;
                }
            }
            while (true)
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                probe.Bind(new IPEndPoint(address, 0));
                var port = ((IPEndPoint)probe.LocalEndPoint!).Port;
                if (HandedOut.Add(port))
                {
                    return port;
                }
            }
        }
    }

    /// <summary>A port that refuses connections: bound (so nobody else takes it) but never listening.</summary>
    public static Socket ReserveClosed(out int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        port = ((IPEndPoint)socket.LocalEndPoint!).Port;
        return socket;
    }

    private static bool CanBind(IPAddress address, int port)
    {
        try
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(address, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static (int Low, int High) EphemeralRange()
    {
        try
        {
            var parts = File.ReadAllText("/proc/sys/net/ipv4/ip_local_port_range").Split((char[])['\t', ' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            return (int.Parse(parts[0], System.Globalization.CultureInfo.InvariantCulture), int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
        }
        catch (IOException)
        {
            return (32768, 60999);
        }
    }
}
