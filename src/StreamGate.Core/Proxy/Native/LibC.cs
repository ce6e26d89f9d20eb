using System.Runtime.InteropServices;

namespace StreamGate.Proxy.Native;

/// <summary>
/// The few Linux system calls the data plane makes directly. Going below System.Net.Sockets removes the
/// per-operation state machines, queue locks and thread-pool hops that ../shared/perf-notes.md measured
/// at about 1.5x nginx's CPU per request; an epoll loop per core does what nginx and HAProxy do.
/// Constants are the Linux generic ones, identical on x86_64 and arm64.
/// </summary>
internal static unsafe partial class LibC
{
    private const string Lib = "libc";

    public const int EINTR = 4;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int ENFILE = 23;
    public const int EMFILE = 24;
    public const int EPIPE = 32;
    public const int EADDRINUSE = 98;
    public const int ECONNABORTED = 103;
    public const int ECONNRESET = 104;
    public const int ENOBUFS = 105;
    public const int ETIMEDOUT = 110;
    public const int ECONNREFUSED = 111;
    public const int EINPROGRESS = 115;

    public const int AF_INET = 2;
    public const int AF_INET6 = 10;
    public const int SOCK_STREAM = 1;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;

    public const int SOL_SOCKET = 1;
    public const int SO_REUSEADDR = 2;
    public const int SO_ERROR = 4;
    public const int SO_LINGER = 13;
    public const int SO_REUSEPORT = 15;
    public const int IPPROTO_TCP = 6;
    public const int TCP_NODELAY = 1;
    public const int IPPROTO_IPV6 = 41;
    public const int IPV6_V6ONLY = 26;

    public const int SHUT_WR = 1;
    public const int MSG_NOSIGNAL = 0x4000;

    public const int EPOLL_CLOEXEC = 0x80000;
    public const int EPOLL_CTL_ADD = 1;
    public const int EPOLL_CTL_DEL = 2;
    public const uint EPOLLIN = 0x001;
    public const uint EPOLLOUT = 0x004;
    public const uint EPOLLERR = 0x008;
    public const uint EPOLLHUP = 0x010;
    public const uint EPOLLRDHUP = 0x2000;
    public const uint EPOLLET = 1u << 31;

    public const int EFD_NONBLOCK = 0x800;
    public const int EFD_CLOEXEC = 0x80000;

    public const int RLIMIT_NOFILE = 7;

    [StructLayout(LayoutKind.Sequential)]
    public struct Linger
    {
        public int OnOff;
        public int Seconds;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport(Lib, EntryPoint = "epoll_create1", SetLastError = true)]
    public static partial int EpollCreate1(int flags);

    [LibraryImport(Lib, EntryPoint = "epoll_ctl", SetLastError = true)]
    public static partial int EpollCtl(int epfd, int op, int fd, byte* ev);

    [LibraryImport(Lib, EntryPoint = "epoll_wait", SetLastError = true)]
    public static partial int EpollWait(int epfd, byte* events, int maxEvents, int timeoutMs);

    [LibraryImport(Lib, EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Lib, EntryPoint = "bind", SetLastError = true)]
    public static partial int Bind(int fd, byte* addr, int addrLen);

    [LibraryImport(Lib, EntryPoint = "listen", SetLastError = true)]
    public static partial int Listen(int fd, int backlog);

    [LibraryImport(Lib, EntryPoint = "accept4", SetLastError = true)]
    public static partial int Accept4(int fd, byte* addr, int* addrLen, int flags);

    [LibraryImport(Lib, EntryPoint = "connect", SetLastError = true)]
    public static partial int Connect(int fd, byte* addr, int addrLen);

    [LibraryImport(Lib, EntryPoint = "recv", SetLastError = true)]
    public static partial nint Recv(int fd, byte* buf, nint len, int flags);

    [LibraryImport(Lib, EntryPoint = "send", SetLastError = true)]
    public static partial nint Send(int fd, byte* buf, nint len, int flags);

    [LibraryImport(Lib, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(int fd, byte* buf, nint len);

    [LibraryImport(Lib, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(int fd, byte* buf, nint len);

    [LibraryImport(Lib, EntryPoint = "shutdown", SetLastError = true)]
    public static partial int Shutdown(int fd, int how);

    [LibraryImport(Lib, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Lib, EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int SetSockOpt(int fd, int level, int name, void* value, int len);

    [LibraryImport(Lib, EntryPoint = "getsockopt", SetLastError = true)]
    public static partial int GetSockOpt(int fd, int level, int name, void* value, int* len);

    [LibraryImport(Lib, EntryPoint = "getsockname", SetLastError = true)]
    public static partial int GetSockName(int fd, byte* addr, int* addrLen);

    [LibraryImport(Lib, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initial, int flags);

    [LibraryImport(Lib, EntryPoint = "getrlimit", SetLastError = true)]
    public static partial int GetRLimit(int resource, RLimit* limit);

    [LibraryImport(Lib, EntryPoint = "setrlimit", SetLastError = true)]
    public static partial int SetRLimit(int resource, RLimit* limit);

    public static int Errno => Marshal.GetLastPInvokeError();

    public static int SetIntOption(int fd, int level, int name, int value) => SetSockOpt(fd, level, name, &value, sizeof(int));

    /// <summary>
    /// Raises the soft open-files limit to the hard one, as nginx's worker_rlimit_nofile does; returns the soft
    /// limit before and after (equal when it was already at the hard limit or could not be raised).
    /// </summary>
    public static (ulong Previous, ulong Current) RaiseOpenFileLimit()
    {
        RLimit limit;
        if (GetRLimit(RLIMIT_NOFILE, &limit) != 0)
        {
            return (1024, 1024);
        }
        var previous = limit.Current;
        if (limit.Current < limit.Maximum)
        {
            var raised = limit;
            raised.Current = raised.Maximum;
            if (SetRLimit(RLIMIT_NOFILE, &raised) == 0)
            {
                return (previous, raised.Current);
            }
        }
        return (previous, previous);
    }
}
