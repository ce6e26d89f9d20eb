using System.Diagnostics;

namespace StreamGate.IntegrationTests.Infrastructure;

/// <summary>
/// The one command line every test starts the gateway with: <c>dotnet streamgate.dll &lt;command&gt; --config
/// &lt;directory&gt;/config.yaml</c>, the executable built beside the tests, output captured line by line.
/// </summary>
internal static class GatewayLauncher
{
    /// <summary>
    /// A process ready to start; the caller wraps it before <see cref="Start"/> so no output line is missed. With
    /// <paramref name="openFilesLimit"/>, a shell sets both the soft and the hard RLIMIT_NOFILE to it and then execs
    /// dotnet, so the limit holds from the runtime's first open (the gateway's own raise to the hard limit cannot
    /// lift it) and the process id stays the gateway's, for signals and /proc. <paramref name="environment"/> adds
    /// variables (STREAMGATE_FAULTS for injected system-call failures). <paramref name="fileSizeLimitBlocks"/> sets
    /// RLIMIT_FSIZE (<c>ulimit -f</c>, 512-byte blocks in /bin/sh) with SIGXFSZ ignored, so a write past it fails
    /// with EFBIG as on a full disk instead of killing the process.
    /// </summary>
    public static Process Create(string directory, string command, int? openFilesLimit = null, IReadOnlyDictionary<string, string>? environment = null, int? fileSizeLimitBlocks = null)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        var limited = openFilesLimit is not null || fileSizeLimitBlocks is not null;
        var info = new ProcessStartInfo(limited ? "/bin/sh" : dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }
        if (limited)
        {
            var limits = "";
            if (openFilesLimit is { } limit)
            {
                ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit, nameof(openFilesLimit));
                limits += $"ulimit -n {limit.ToString(System.Globalization.CultureInfo.InvariantCulture)} && ";
            }
            if (fileSizeLimitBlocks is { } blocks)
            {
                ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blocks, nameof(fileSizeLimitBlocks));
                // An ignored signal stays ignored across exec.
                limits += $"trap '' XFSZ && ulimit -f {blocks.ToString(System.Globalization.CultureInfo.InvariantCulture)} && ";
            }
            // $0 and "$@" are the words after the script: the command line is passed through without re-quoting.
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add(limits + "exec \"$0\" \"$@\"");
            info.ArgumentList.Add(dotnet);
        }
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "streamgate.dll"));
        info.ArgumentList.Add(command);
        info.ArgumentList.Add("--config");
        info.ArgumentList.Add(Path.Combine(directory, "config.yaml"));
        return new Process { StartInfo = info, EnableRaisingEvents = true };
    }

    public static void Start(Process process, Action<string?> onLine)
    {
        process.OutputDataReceived += (_, e) => onLine(e.Data);
        process.ErrorDataReceived += (_, e) => onLine(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }
}
