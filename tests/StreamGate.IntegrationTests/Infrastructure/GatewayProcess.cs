using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;

namespace StreamGate.IntegrationTests.Infrastructure;

/// <summary>
/// The real streamgate executable, started as a child process on a config.yaml and apisix.yaml written to a
/// temporary folder. Output is captured so tests can wait for log lines instead of sleeping.
/// </summary>
internal sealed partial class GatewayProcess : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    private readonly StringBuilder _output = new();
    private readonly Lock _outputLock = new();
    private readonly List<(string Text, TaskCompletionSource Seen)> _waiters = [];

    private readonly bool _ownsDirectory;

    private GatewayProcess(string directory, Process process, bool ownsDirectory)
    {
        Directory = directory;
        Process = process;
        _ownsDirectory = ownsDirectory;
    }

    public string Directory { get; }

    public Process Process { get; }

    public string ConfigPath => Path.Combine(Directory, "config.yaml");

    public string StandalonePath => Path.Combine(Directory, "apisix.yaml");

    public string Output
    {
        get
        {
            lock (_outputLock)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>
    /// Starts the gateway and waits until it says it started; fails with its output if it exits instead. With
    /// <paramref name="openFilesLimit"/>, the process runs under <c>ulimit -n</c> of that value (soft and hard).
    /// </summary>
    public static Task<GatewayProcess> StartAsync(string configYaml, string apisixYaml, int? openFilesLimit = null, IReadOnlyDictionary<string, string>? environment = null) =>
        WaitUntilStartedAsync(Launch(configYaml, apisixYaml, "run", openFilesLimit, environment));

    /// <summary>
    /// Starts the gateway on a folder that already holds config.yaml (and maybe a store from an earlier run),
    /// so a test can kill one process and start the next on the same database. Disposing leaves the folder.
    /// </summary>
    public static Task<GatewayProcess> StartInAsync(string directory, IReadOnlyDictionary<string, string>? environment = null, int? fileSizeLimitBlocks = null)
    {
        var gateway = new GatewayProcess(directory, GatewayLauncher.Create(directory, "run", environment: environment, fileSizeLimitBlocks: fileSizeLimitBlocks), ownsDirectory: false);
        GatewayLauncher.Start(gateway.Process, gateway.Append);
        return WaitUntilStartedAsync(gateway);
    }

    private static async Task<GatewayProcess> WaitUntilStartedAsync(GatewayProcess gateway)
    {
        try
        {
            await gateway.WaitForOutputAsync("started with", StartTimeout);
        }
        catch
        {
            await gateway.DisposeAsync();
            throw;
        }
        return gateway;
    }

    /// <summary>Runs a streamgate command to completion (validate, or run on a config expected to fail).</summary>
    public static async Task<(int ExitCode, string Output)> RunToExitAsync(string configYaml, string? apisixYaml, string command, IReadOnlyDictionary<string, string>? environment = null)
    {
        await using var gateway = Launch(configYaml, apisixYaml, command, environment: environment);
        using var timeout = new CancellationTokenSource(StartTimeout);
        await gateway.Process.WaitForExitAsync(timeout.Token);
        return (gateway.Process.ExitCode, gateway.Output);
    }

    private static GatewayProcess Launch(string configYaml, string? apisixYaml, string command, int? openFilesLimit = null, IReadOnlyDictionary<string, string>? environment = null)
    {
        var directory = Path.Combine(Path.GetTempPath(), "streamgate-it-" + Guid.NewGuid().ToString("N")[..12]);
        System.IO.Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "config.yaml"), configYaml);
        if (apisixYaml is not null)
        {
            File.WriteAllText(Path.Combine(directory, "apisix.yaml"), apisixYaml);
        }
        var gateway = new GatewayProcess(directory, GatewayLauncher.Create(directory, command, openFilesLimit, environment), ownsDirectory: true);
        GatewayLauncher.Start(gateway.Process, gateway.Append);
        return gateway;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }
        lock (_outputLock)
        {
            _output.AppendLine(line);
            foreach (var (text, seen) in _waiters)
            {
                if (line.Contains(text, StringComparison.Ordinal))
                {
                    seen.TrySetResult();
                }
            }
        }
    }

    /// <summary>Waits until a line containing <paramref name="text"/> has been printed (at any time since start).</summary>
    public async Task WaitForOutputAsync(string text, TimeSpan timeout, int occurrences = 1)
    {
        var seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_outputLock)
        {
            if (CountOccurrences(_output.ToString(), text) >= occurrences)
            {
                return;
            }
            _waiters.Add((text, seen));
        }
        var exited = Process.WaitForExitAsync();
        var deadline = DateTime.UtcNow + timeout;
        while (true)
        {
            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                throw new TimeoutException($"gateway did not print \"{text}\" within {timeout}; output:\n{Output}");
            }
            var done = await Task.WhenAny(seen.Task, exited, Task.Delay(remaining));
            lock (_outputLock)
            {
                if (CountOccurrences(_output.ToString(), text) >= occurrences)
                {
                    return;
                }
                if (done == seen.Task)
                {
                    _waiters.Remove((text, seen));
                    seen = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    _waiters.Add((text, seen));
                }
            }
            if (done == exited)
            {
                throw new InvalidOperationException($"gateway exited ({Process.ExitCode}) before printing \"{text}\"; output:\n{Output}");
            }
        }
    }

    private static int CountOccurrences(string haystack, string needle)
    {
        var count = 0;
        for (var i = haystack.IndexOf(needle, StringComparison.Ordinal); i >= 0; i = haystack.IndexOf(needle, i + needle.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }

    /// <summary>Replaces apisix.yaml atomically (write + rename), as a deployment tool would.</summary>
    public void ReplaceStandalone(string content)
    {
        var temp = StandalonePath + ".tmp";
        File.WriteAllText(temp, content);
        File.Move(temp, StandalonePath, overwrite: true);
    }

    /// <summary>Resident memory of the gateway process (VmRSS), in bytes.</summary>
    public long ResidentBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{Process.Id}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line[6..].Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }
        return 0;
    }

    /// <summary>
    /// Waits (bounded) until the gateway holds at most <paramref name="count"/> sockets and returns how many it
    /// holds: a client sees its end of a session a moment before the gateway closes the session's other socket.
    /// </summary>
    public async Task<int> WaitForSocketsAtMostAsync(int count, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        var open = OpenSockets();
        while (open > count && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50);
            open = OpenSockets();
        }
        return open;
    }

    /// <summary>Sockets the gateway holds open (listeners, connections), from /proc/PID/fd.</summary>
    public int OpenSockets()
    {
        var count = 0;
        foreach (var fd in System.IO.Directory.GetFiles($"/proc/{Process.Id}/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget?.StartsWith("socket:", StringComparison.Ordinal) == true)
                {
                    count++;
                }
            }
            catch (IOException)
            {
                // Closed while we looked.
            }
        }
        return count;
    }

    /// <summary>
    /// CPU time the gateway has used so far, user plus system (utime + stime of /proc/&lt;pid&gt;/stat), in seconds:
    /// a thread spinning adds about one second per second.
    /// </summary>
    public double CpuSeconds()
    {
        var stat = File.ReadAllText($"/proc/{Process.Id}/stat");
        // The command name (field 2) is in parentheses and may hold spaces; the fields after it are plain. From
        // the state (field 3) on, utime and stime are fields 14 and 15.
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        var ticks = ulong.Parse(fields[11], System.Globalization.CultureInfo.InvariantCulture)
            + ulong.Parse(fields[12], System.Globalization.CultureInfo.InvariantCulture);
        return ticks / (double)ClockTicksPerSecond;
    }

    /// <summary>How many descriptors the gateway has open now (the entries of /proc/&lt;pid&gt;/fd).</summary>
    public int OpenDescriptors() => System.IO.Directory.GetFileSystemEntries($"/proc/{Process.Id}/fd").Length;

    public bool HasExited => Process.HasExited;

    /// <summary>Sends <paramref name="signal"/> (a Linux signal number: 15 SIGTERM, 10 SIGUSR1, ...) with kill(2).</summary>
    public void Signal(int signal)
    {
        if (Kill(Process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({Process.Id}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    public void Terminate() => _ = Kill(Process.Id, 15);

    /// <summary>SIGKILL: no shutdown code runs; the store keeps whatever the kernel had when the process died.</summary>
    public async Task KillAsync()
    {
        try
        {
            Process.Kill();
        }
        catch (InvalidOperationException)
        {
            // Already gone.
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await Process.WaitForExitAsync(timeout.Token);
    }

    public async Task<int> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await Process.WaitForExitAsync(cts.Token);
        return Process.ExitCode;
    }

    /// <summary>Connects a client to the gateway, optionally from a given loopback source address.</summary>
    public static async Task<Socket> ConnectAsync(IPAddress address, int port, IPAddress? from = null)
    {
        var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (from is not null)
        {
            socket.Bind(new IPEndPoint(from, 0));
        }
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await socket.ConnectAsync(new IPEndPoint(address, port), timeout.Token);
        return socket;
    }

    /// <summary>
    /// Connects and reads the one-letter name a <see cref="TestServer.Named"/> backend sends first: which
    /// upstream the gateway chose for this connection.
    /// </summary>
    public static async Task<string> FirstLineAsync(IPAddress address, int port, IPAddress? from = null)
    {
        using var client = await ConnectAsync(address, port, from);
        return (await client.ReceiveTextAsync(2)).TrimEnd('\n');
    }

    public static Task<string> FirstLineAsync(int port) => FirstLineAsync(IPAddress.Loopback, port);

    public async ValueTask DisposeAsync()
    {
        if (!Process.HasExited)
        {
            Process.Kill(entireProcessTree: true);
            await Process.WaitForExitAsync();
        }
        Process.Dispose();
        if (!_ownsDirectory)
        {
            return;
        }
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    // USER_HZ: what /proc reports times in. sysconf says; 100 is its value on every Linux build that matters.
    private static readonly nint ClockTicksPerSecond = SysConf(ScClkTck) is > 0 and var hz ? hz : 100;

    private const int ScClkTck = 2;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "sysconf")]
    private static partial nint SysConf(int name);
}
