using System.Runtime.InteropServices;

namespace StreamGate.Logging;

/// <summary>
/// The access log's file descriptor, opened with O_APPEND so the kernel puts every write at the current end
/// of the file. FileStream's FileMode.Append only seeks to the end once and then writes at its own position:
/// after logrotate's copytruncate empties the file, the next write lands at the old offset and leaves a hole
/// of NUL bytes before it. With O_APPEND the next line starts at offset 0, as nginx's logs do.
/// A plain int, not a SafeFileHandle: only the writer thread uses, reopens and closes it, so there is no
/// use-after-close race to guard, and SafeFileHandle would take descriptor 0 (free when stdin is closed) as invalid.
/// </summary>
internal sealed unsafe partial class AccessLogFile : IDisposable
{
    // Linux's generic values, the same on x86_64 and arm64.
    private const int O_WRONLY = 0x1;
    private const int O_CREAT = 0x40;
    private const int O_APPEND = 0x400;
    private const int O_CLOEXEC = 0x80000;
    private const int Mode0644 = 0x1A4;
    private const int EINTR = 4;
    private const int EAGAIN = 11;
    private const short POLLOUT = 0x4;
    private const int StdoutFd = 1;

    private int _fd;

    private AccessLogFile(string path, int fd, bool stdout)
    {
        Path = path;
        _fd = fd;
        IsStdout = stdout;
    }

    public string Path { get; }

    /// <summary>Standard output: never reopened or closed (nginx reopens only files).</summary>
    public bool IsStdout { get; }

    /// <summary>"stdout" or "/dev/stdout" writes to the process's standard output; anything else is a file, created if missing.</summary>
    public static AccessLogFile Open(string path)
    {
        if (path is "stdout" or "/dev/stdout")
        {
            return new AccessLogFile(path, StdoutFd, stdout: true);
        }
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path)) ?? ".");
        var fd = OpenAppend(path);
        if (fd < 0)
        {
            throw new IOException($"cannot open the access log {path}: {Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError())}");
        }
        return new AccessLogFile(path, fd, stdout: false);
    }

    /// <summary>
    /// Opens the path again and swaps descriptors, so lines go to a new file after the old one was renamed
    /// (nginx's reopen). On failure the old descriptor stays and the error is returned (0 on success).
    /// </summary>
    public int Reopen()
    {
        if (IsStdout)
        {
            return 0;
        }
        var fd = OpenAppend(Path);
        if (fd < 0)
        {
            return Marshal.GetLastPInvokeError();
        }
        _ = Close(_fd);
        _fd = fd;
        return 0;
    }

    /// <summary>
    /// Writes <paramref name="first"/> then <paramref name="second"/> (a ring's two pieces) with writev, so the
    /// kernel appends them as one write; blocks as long as the file or pipe needs. 0, or the errno of the failure.
    /// </summary>
    public int Write(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        fixed (byte* a = first)
        fixed (byte* b = second)
        {
            var pieces = stackalloc IoVec[2];
            byte* aNext = a, bNext = b;
            nint aLeft = first.Length, bLeft = second.Length;
            while (aLeft + bLeft > 0)
            {
                var count = 0;
                if (aLeft > 0)
                {
                    pieces[count++] = new IoVec { Base = aNext, Length = aLeft };
                }
                if (bLeft > 0)
                {
                    pieces[count++] = new IoVec { Base = bNext, Length = bLeft };
                }
                var n = WriteV(_fd, pieces, count);
                if (n < 0)
                {
                    var errno = Marshal.GetLastPInvokeError();
                    if (errno == EINTR)
                    {
                        continue;
                    }
                    if (errno != EAGAIN)
                    {
                        return errno;
                    }
                    // A non-blocking stdout inherited from the parent: wait until it takes bytes again (this is the writer's thread).
                    var poll = new PollFd { Fd = _fd, Events = POLLOUT };
                    _ = Poll(&poll, 1, -1);
                    continue;
                }
                var fromA = Math.Min(n, aLeft);
                aNext += fromA;
                aLeft -= fromA;
                bNext += n - fromA;
                bLeft -= n - fromA;
            }
            return 0;
        }
    }

    public void Dispose()
    {
        if (!IsStdout && _fd >= 0)
        {
            _ = Close(_fd);
            _fd = -1;
        }
    }

    private static int OpenAppend(string path) => Open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, Mode0644);

    // open(2) is variadic in C; passing the mode as a fixed int argument is what the Linux x86_64 and arm64
    // calling conventions expect (arm64 differs only on Apple platforms).
    [LibraryImport("libc", EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Open(string path, int flags, int mode);

    [LibraryImport("libc", EntryPoint = "writev", SetLastError = true)]
    private static partial nint WriteV(int fd, IoVec* pieces, int count);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    private static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "poll", SetLastError = true)]
    private static partial int Poll(PollFd* fds, nuint count, int timeoutMs);

    [StructLayout(LayoutKind.Sequential)]
    private struct IoVec
    {
        public byte* Base;
        public nint Length;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct PollFd
    {
        public int Fd;
        public short Events;
        public short Revents;
    }
}
