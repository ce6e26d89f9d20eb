using System.Runtime.InteropServices;
using StreamGate.Config;
using StreamGate.Proxy.Native;
using StreamGate.Routing;

namespace StreamGate.Proxy.Tcp;

/// <summary>
/// A non-blocking listening socket. Every event loop opens its own for each listen address with SO_REUSEPORT,
/// so the kernel spreads new connections over the loops (nginx's "reuseport") and no accept lock is shared.
/// A wildcard entry listens dual-stack on [::] when the machine has IPv6, otherwise on 0.0.0.0.
/// </summary>
internal sealed unsafe class ListenerSocket
{
    // The kernel caps this at net.core.somaxconn (4096 on current kernels); nginx uses 511 by default,
    // which overflows under bursts of new connections from benchmark clients.
    private const int Backlog = 4096;

    private ListenerSocket(ListenEntry entry, int fd, IpAddr? boundAddress)
    {
        Entry = entry;
        Fd = fd;
        BoundAddress = boundAddress;
    }

    public ListenEntry Entry { get; }

    public int Fd { get; set; }

    /// <summary>The specific address listened on, or null for a wildcard (then each connection asks getsockname).</summary>
    public IpAddr? BoundAddress { get; }

    public static ListenerSocket Open(ListenEntry entry)
    {
        if (entry.Address is { } address)
        {
            return new ListenerSocket(entry, OpenSocket(address.ToIPAddress(), entry, dualStack: false), address);
        }
        var v6 = LibC.Socket(LibC.AF_INET6, LibC.SOCK_STREAM, 0);
        if (v6 >= 0)
        {
            _ = LibC.Close(v6);
            return new ListenerSocket(entry, OpenSocket(System.Net.IPAddress.IPv6Any, entry, dualStack: true), null);
        }
        return new ListenerSocket(entry, OpenSocket(System.Net.IPAddress.Any, entry, dualStack: false), null);
    }

    private static int OpenSocket(System.Net.IPAddress address, ListenEntry entry, bool dualStack)
    {
        var family = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? LibC.AF_INET6 : LibC.AF_INET;
        var fd = LibC.Socket(family, LibC.SOCK_STREAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw Failure("socket", entry);
        }
        _ = LibC.SetIntOption(fd, LibC.SOL_SOCKET, LibC.SO_REUSEADDR, 1);
        _ = LibC.SetIntOption(fd, LibC.SOL_SOCKET, LibC.SO_REUSEPORT, 1);
        if (family == LibC.AF_INET6)
        {
            _ = LibC.SetIntOption(fd, LibC.IPPROTO_IPV6, LibC.IPV6_V6ONLY, dualStack ? 0 : 1);
        }
        var sockaddr = stackalloc byte[SockAddr.MaxLength];
        var length = SockAddr.Encode(address, entry.Port, new Span<byte>(sockaddr, SockAddr.MaxLength));
        if (LibC.Bind(fd, sockaddr, length) != 0)
        {
            var error = Failure("bind", entry);
            _ = LibC.Close(fd);
            throw error;
        }
        if (LibC.Listen(fd, Backlog) != 0)
        {
            var error = Failure("listen", entry);
            _ = LibC.Close(fd);
            throw error;
        }
        return fd;
    }

    private static ConfigException Failure(string call, ListenEntry entry)
    {
        var errno = LibC.Errno;
        return new ConfigException("apisix.stream_proxy.tcp", $"cannot listen on {entry}: {call} failed: {Marshal.GetPInvokeErrorMessage(errno)}");
    }
}
