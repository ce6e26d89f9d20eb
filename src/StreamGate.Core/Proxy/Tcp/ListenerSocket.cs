using System.Runtime.InteropServices;
using StreamGate.Config;
using StreamGate.Proxy.Native;
using StreamGate.Proxy.Preread;
using StreamGate.Proxy.Reactor;
using StreamGate.Routing;

namespace StreamGate.Proxy.Tcp;

/// <summary>
/// A non-blocking listening socket. Every event loop opens its own for each listen address with SO_REUSEPORT,
/// so the kernel spreads new connections over the loops (nginx's "reuseport") and no accept lock is shared.
/// A wildcard entry listens dual-stack on [::] when the machine has IPv6, otherwise on 0.0.0.0.
/// </summary>
internal sealed unsafe class ListenerSocket : Pollable
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

    public int Fd { get; private set; }

    /// <summary>The specific address listened on, or null for a wildcard (then a connection may ask getsockname).</summary>
    public IpAddr? BoundAddress { get; }

    /// <summary>Hooks run on every accepted connection before routing (PROXY protocol, TLS ClientHello).</summary>
    public IPrereadHook[] PrereadHooks { get; init; } = [];

    /// <summary>The worker that accepts on this socket; set when it is added to one.</summary>
    internal TcpWorker? Worker { get; set; }

    public override void OnReady(int endpoint, uint generation, uint events)
    {
        if (Fd >= 0)
        {
            Worker!.Accept(this);
        }
    }

    public void Close()
    {
        if (Fd >= 0)
        {
            _ = LibC.Close(Fd);
            Fd = -1;
        }
    }

    /// <summary>
    /// Refuses an address another process already listens on. Every loop binds with SO_REUSEPORT, which would
    /// also let a second gateway started by mistake bind beside the first and split its traffic between two
    /// configurations; a bind without SO_REUSEPORT fails then with EADDRINUSE, as nginx's bind does.
    /// Call for every entry before any listener of this process is open.
    /// </summary>
    public static void EnsureNotInUse(ListenEntry entry)
    {
        var (address, dualStack) = BindAddress(entry);
        var fd = Create(address, dualStack, entry, reusePort: false);
        _ = LibC.Close(fd);
    }

    public static ListenerSocket Open(ListenEntry entry, IPrereadHook[] prereadHooks)
    {
        var (address, dualStack) = BindAddress(entry);
        return new ListenerSocket(entry, Create(address, dualStack, entry, reusePort: true), entry.Address) { PrereadHooks = prereadHooks };
    }

    private static (System.Net.IPAddress Address, bool DualStack) BindAddress(ListenEntry entry)
    {
        if (entry.Address is { } address)
        {
            return (address.ToIPAddress(), false);
        }
        var v6 = LibC.Socket(LibC.AF_INET6, LibC.SOCK_STREAM, 0);
        if (v6 >= 0)
        {
            _ = LibC.Close(v6);
            return (System.Net.IPAddress.IPv6Any, true);
        }
        return (System.Net.IPAddress.Any, false);
    }

    private static int Create(System.Net.IPAddress address, bool dualStack, ListenEntry entry, bool reusePort)
    {
        var family = address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? LibC.AF_INET6 : LibC.AF_INET;
        var fd = LibC.Socket(family, LibC.SOCK_STREAM | LibC.SOCK_NONBLOCK | LibC.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw Failure("socket", entry, LibC.Errno);
        }
        _ = LibC.SetIntOption(fd, LibC.SOL_SOCKET, LibC.SO_REUSEADDR, 1);
        if (reusePort)
        {
            _ = LibC.SetIntOption(fd, LibC.SOL_SOCKET, LibC.SO_REUSEPORT, 1);
        }
        // Accepted sockets inherit TCP_NODELAY from the listener on Linux: one setsockopt per connection fewer.
        _ = LibC.SetIntOption(fd, LibC.IPPROTO_TCP, LibC.TCP_NODELAY, 1);
        if (family == LibC.AF_INET6)
        {
            _ = LibC.SetIntOption(fd, LibC.IPPROTO_IPV6, LibC.IPV6_V6ONLY, dualStack ? 0 : 1);
        }
        var sockaddr = stackalloc byte[SockAddr.MaxLength];
        var length = SockAddr.Encode(address, entry.Port, new Span<byte>(sockaddr, SockAddr.MaxLength));
        if (LibC.Bind(fd, sockaddr, length) != 0)
        {
            var errno = LibC.Errno;
            _ = LibC.Close(fd);
            throw errno == LibC.EADDRINUSE && !reusePort
                ? new ConfigException("apisix.stream_proxy.tcp", $"cannot listen on {entry}: address in use; another process (another gateway?) is listening there; stop it or choose another port")
                : Failure("bind", entry, errno);
        }
        if (reusePort && LibC.Listen(fd, Backlog) != 0)
        {
            var errno = LibC.Errno;
            _ = LibC.Close(fd);
            throw Failure("listen", entry, errno);
        }
        return fd;
    }

    private static ConfigException Failure(string call, ListenEntry entry, int errno) =>
        new("apisix.stream_proxy.tcp", $"cannot listen on {entry}: {call} failed: {Marshal.GetPInvokeErrorMessage(errno)}");
}
