using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace StreamGate.Tests.Proxy;

/// <summary>
/// TCP_NODELAY on the gateway's upstream socket is deferred to its second send (Nagle never holds a first
/// segment, so a one-request connection saves the setsockopt) and is in place before that second send.
/// The proxy runs in this process, so the test reads the option straight off the gateway's own descriptor.
/// </summary>
public sealed class UpstreamNoDelayTests
{
    [Fact]
    public async Task The_upstream_socket_gets_TCP_NODELAY_before_its_second_send()
    {
        using var backend = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        backend.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        backend.Listen(4);
        await using var proxy = InProcessProxy.Start([InProcessProxy.Route("r", InProcessProxy.UpstreamTo(((IPEndPoint)backend.LocalEndPoint!).Port))]);
        using var client = await proxy.ConnectAsync();
        await client.SendAsync("one");
        using var accepted = await backend.AcceptAsync();
        Assert.Equal("one", await accepted.ReceiveAsync(3));
        var gatewayFd = FindDescriptor(((IPEndPoint)accepted.RemoteEndPoint!).Port, ((IPEndPoint)accepted.LocalEndPoint!).Port);
        Assert.False(NoDelayOf(gatewayFd), "first send: not set yet");

        await client.SendAsync("two");
        Assert.Equal("two", await accepted.ReceiveAsync(3));
        Assert.True(NoDelayOf(gatewayFd), "set before the second send");

        // And the other way round the client socket has it from the listener.
        await accepted.SendAsync("back");
        Assert.Equal("back", await client.ReceiveAsync(4));
    }

    private static bool NoDelayOf(int fd)
    {
        // A view of the gateway's descriptor that does not own it (disposing it leaves the socket open).
        using var view = new Socket(new SafeSocketHandle(fd, ownsHandle: false));
        return (int)view.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.NoDelay)! != 0;
    }

    /// <summary>
    /// This process's descriptor for the established TCP socket 127.0.0.1:<paramref name="localPort"/> to
    /// 127.0.0.1:<paramref name="remotePort"/> (from /proc/net/tcp's inode; state 01, so no TIME_WAIT entry matches).
    /// </summary>
    private static int FindDescriptor(int localPort, int remotePort)
    {
        var local = "0100007F:" + localPort.ToString("X4", CultureInfo.InvariantCulture);
        var remote = "0100007F:" + remotePort.ToString("X4", CultureInfo.InvariantCulture);
        var inode = File.ReadLines("/proc/net/tcp").Skip(1)
            .Select(l => l.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Single(f => f[1] == local && f[2] == remote && f[3] == "01")[9];
        foreach (var entry in new DirectoryInfo("/proc/self/fd").EnumerateFileSystemInfos())
        {
            if (entry.LinkTarget == $"socket:[{inode}]")
            {
                return int.Parse(entry.Name, CultureInfo.InvariantCulture);
            }
        }
        throw new InvalidOperationException($"no descriptor for {local}");
    }
}
