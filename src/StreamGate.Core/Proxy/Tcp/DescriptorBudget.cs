using StreamGate.Proxy.Native;

namespace StreamGate.Proxy.Tcp;

/// <summary>
/// How many connections each event loop may hold so the process never runs out of file descriptors: the
/// open-files limit (raised to the hard limit first, as nginx's worker_rlimit_nofile does) minus what is open
/// when the data plane starts, a margin for what the runtime opens later, and what the admin and control APIs
/// may hold at their caps, over two descriptors per proxied connection. When descriptors run out anyway,
/// .NET's own pipe2/open calls fail and the runtime aborts the process; a cap below the limit keeps it alive.
/// </summary>
internal readonly record struct DescriptorBudget(ulong Limit, ulong PreviousLimit, int PerLoop, int Reserve, bool Configured, string? Warning)
{
    /// <summary>
    /// Descriptors the runtime opens after start. .NET keeps two per loaded assembly (an idle gateway holds about
    /// 110, nearly all of them assemblies: ls -l /proc/PID/fd), and a first admin request, DNS lookup or access-log
    /// reopen loads a few more assemblies, and the runtime's debugger pipe takes one while it opens.
    /// </summary>
    public const int LateRuntimeMargin = 32;

    public static (ulong Previous, ulong Current) RaiseLimit() => LibC.RaiseOpenFileLimit();

    public static DescriptorBudget Compute(ulong previous, ulong limit, int loops, int openNow, int apiReserve, int? configured)
    {
        var reserve = openNow + LateRuntimeMargin + apiReserve;
        var usable = limit > (ulong)reserve ? limit - (ulong)reserve : 0;
        var perLoop = (int)Math.Clamp(usable / 2 / (ulong)Math.Max(1, loops), 1, 1_000_000);
        string? warning = null;
        if (usable / 2 < (ulong)loops)
        {
            warning = $"the open-files limit ({limit}) leaves almost nothing for connections once the process has what it needs ({reserve}); each event loop holds {perLoop} at most. Raise it (ulimit -n, LimitNOFILE=)";
        }
        if (configured is { } value)
        {
            // More than the descriptors allow would let connections take what the runtime needs to live: lowered.
            if (value > perLoop)
            {
                warning = $"nginx_config.event.worker_connections is {value} per event loop, but the open-files limit ({limit}) leaves descriptors for {perLoop}; using {perLoop}. Raise the limit (ulimit -n, LimitNOFILE=) to allow more";
            }
            else
            {
                perLoop = value;
            }
        }
        return new DescriptorBudget(limit, previous, perLoop, reserve, configured is not null, warning);
    }

    /// <summary>Descriptors this process has open now (/proc/self/fd, less the one that lists it).</summary>
    public static int CountOpen()
    {
        try
        {
            return Math.Max(0, Directory.GetFiles("/proc/self/fd").Length - 1);
        }
        catch (IOException)
        {
            return 256;
        }
    }
}
