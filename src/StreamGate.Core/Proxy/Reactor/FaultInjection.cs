namespace StreamGate.Proxy.Reactor;

/// <summary>
/// Failures of system calls that cannot be provoked from outside a process on demand (epoll_wait failing,
/// epoll_ctl running out of memory), injected by the tests of the real gateway process through the
/// STREAMGATE_FAULTS environment variable, e.g. "epoll_wait@0,epoll_ctl*2":
/// <c>epoll_wait@N</c> makes loop N's first wait fail with EBADF; <c>epoll_ctl*K</c> makes the first K
/// registrations of accepted connections fail with ENOMEM; <c>accept*K</c> makes the first K accept calls fail
/// with EMFILE. Read once at start; unset (as in production) every
/// check is a static readonly false that the JIT folds away.
/// </summary>
internal static class FaultInjection
{
    private static readonly int s_failingWaitLoop = -1;
    private static int s_failingRegistrations;
    private static int s_failingAccepts;

    static FaultInjection()
    {
        var spec = Environment.GetEnvironmentVariable("STREAMGATE_FAULTS");
        if (string.IsNullOrEmpty(spec))
        {
            return;
        }
        foreach (var item in spec.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (item.StartsWith("epoll_wait@", StringComparison.Ordinal) && int.TryParse(item.AsSpan(11), out var loop))
            {
                s_failingWaitLoop = loop;
            }
            else if (item.StartsWith("epoll_ctl*", StringComparison.Ordinal) && int.TryParse(item.AsSpan(10), out var count))
            {
                s_failingRegistrations = count;
            }
            else if (item.StartsWith("accept*", StringComparison.Ordinal) && int.TryParse(item.AsSpan(7), out var accepts))
            {
                s_failingAccepts = accepts;
            }
        }
        Enabled = true;
    }

    public static readonly bool Enabled;

    public static bool FailWait(int loop) => Enabled && loop == s_failingWaitLoop;

    public static bool FailRegistration() => Enabled && Interlocked.Decrement(ref s_failingRegistrations) >= 0;

    public static bool FailAccept() => Enabled && Interlocked.Decrement(ref s_failingAccepts) >= 0;
}
