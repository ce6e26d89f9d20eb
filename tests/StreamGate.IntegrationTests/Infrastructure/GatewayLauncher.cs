using System.Diagnostics;

namespace StreamGate.IntegrationTests.Infrastructure;

/// <summary>
/// The one command line every test starts the gateway with: <c>dotnet streamgate.dll &lt;command&gt; --config
/// &lt;directory&gt;/config.yaml</c>, the executable built beside the tests, output captured line by line.
/// </summary>
internal static class GatewayLauncher
{
    /// <summary>A process ready to start; the caller wraps it before <see cref="Start"/> so no output line is missed.</summary>
    public static Process Create(string directory, string command)
    {
        var info = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
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
