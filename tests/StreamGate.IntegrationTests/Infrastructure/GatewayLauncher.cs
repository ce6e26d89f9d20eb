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
    /// variables (STREAMGATE_FAULTS for injected system-call failures).
    /// </summary>
    public static Process Create(string directory, string command, int? openFilesLimit = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet";
        var info = new ProcessStartInfo(openFilesLimit is null ? dotnet : "/bin/sh")
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
        if (openFilesLimit is { } limit)
        {
            ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit, nameof(openFilesLimit));
            // $0 and "$@" are the words after the script: the command line is passed through without re-quoting.
            info.ArgumentList.Add("-c");
            info.ArgumentList.Add($"ulimit -n {limit.ToString(System.Globalization.CultureInfo.InvariantCulture)} && exec \"$0\" \"$@\"");
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
