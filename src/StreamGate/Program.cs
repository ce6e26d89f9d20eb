using System.Reflection;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using StreamGate.Config;
using StreamGate.Runtime;

namespace StreamGate;

/// <summary>The streamgate command: run, validate, version.</summary>
internal static partial class Program
{
    private const string DefaultConfig = "conf/config.yaml";

    // Raw signal number (PosixSignal has no name for it); 10 on Linux x86_64 and arm64.
    private const int SigUsr1 = 10;

    private const string Usage = """
        Usage: streamgate <command> [--config <path>]

        Commands:
          run        start the gateway (default config: conf/config.yaml)
          validate   check config.yaml and apisix.yaml, print every error, exit 1 if any
          version    print the version
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }
        var command = args[0];
        if (command == "version")
        {
            Console.WriteLine($"streamgate {Version()}");
            return 0;
        }
        if (!TryParseOptions(args.AsSpan(1), out var configPath, out var optionError))
        {
            Console.Error.WriteLine(optionError);
            Console.Error.WriteLine(Usage);
            return 2;
        }
        return command switch
        {
            "run" => await RunAsync(configPath).ConfigureAwait(false),
            "validate" => await ValidateAsync(configPath).ConfigureAwait(false),
            _ => UnknownCommand(command),
        };
    }

    private static int UnknownCommand(string command)
    {
        Console.Error.WriteLine($"unknown command \"{command}\"");
        Console.Error.WriteLine(Usage);
        return 2;
    }

    private static bool TryParseOptions(ReadOnlySpan<string> args, out string configPath, out string error)
    {
        configPath = DefaultConfig;
        error = "";
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--config" or "-c" when i + 1 < args.Length:
                    configPath = args[++i];
                    break;
                default:
                    error = $"unknown option \"{args[i]}\"";
                    return false;
            }
        }
        return true;
    }

    private static async Task<int> ValidateAsync(string configPath)
    {
        var errors = new List<string>();
        GatewayConfig? config = null;
        try
        {
            config = GatewayConfigLoader.Load(configPath);
        }
        catch (ConfigException e)
        {
            errors.AddRange(e.Errors.Select(err => $"{configPath}: {err}"));
        }
        // The standalone file a data plane serves, or the seed a new store imports.
        var standalone = config switch
        {
            { Role: "data_plane" } => config.StandalonePath,
            { ResolvedSqliteSeed: { } seed } => seed,
            _ => null,
        };
        if (standalone is not null)
        {
            try
            {
                // Names are looked up as a run would, so validate takes as long; one that does not resolve is
                // not an error (a run starts with it too, its nodes skipped) and is not reported here.
                await StandaloneConfigWatcher.LoadSnapshotAsync(standalone, 0, new HostResolver(NullLogger.Instance)).ConfigureAwait(false);
            }
            catch (ConfigException e)
            {
                errors.AddRange(e.Errors.Select(err => $"{standalone}: {err}"));
            }
        }
        if (errors.Count > 0)
        {
            foreach (var error in errors)
            {
                Console.Error.WriteLine(error);
            }
            Console.Error.WriteLine($"configuration is invalid: {errors.Count} error(s)");
            return 1;
        }
        Console.WriteLine($"{configPath}: configuration is valid");
        return 0;
    }

    private static async Task<int> RunAsync(string configPath)
    {
        using var loggers = LoggerFactory.Create(b => b
            .AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "yyyy-MM-dd HH:mm:ss.fff ";
            })
            // A console nobody reads fast enough must not stall an event loop: drop lines rather than wait.
            .AddConsole(o => o.QueueFullMode = Microsoft.Extensions.Logging.Console.ConsoleLoggerQueueFullMode.DropWrite));
        var logger = loggers.CreateLogger("StreamGate");
        GatewayConfig config;
        try
        {
            config = GatewayConfigLoader.Load(configPath);
        }
        catch (ConfigException e)
        {
            ReportFatal(configPath, e);
            return 1;
        }
        await using var gateway = new GatewayHost(config, loggers);
        try
        {
            await gateway.StartAsync().ConfigureAwait(false);
        }
        catch (ConfigException e)
        {
            ReportFatal(configPath, e);
            await gateway.ShutdownAsync().ConfigureAwait(false);
            return 1;
        }
        Started(logger, Version(), Path.GetFullPath(configPath));

        var stop = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var force = new CancellationTokenSource();
        var signals = 0;
        void OnSignal(PosixSignalContext context)
        {
            context.Cancel = true;
            // The first SIGTERM/Ctrl+C drains gracefully; a second one closes what is still open at once.
            if (Interlocked.Increment(ref signals) == 1)
            {
                stop.TrySetResult();
            }
            else
            {
                ForcingStop(logger);
                force.Cancel();
            }
        }
        using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        // SIGUSR1 reopens the access log (nginx's convention); without one it must not end the process either.
        using var reopen = PosixSignalRegistration.Create((PosixSignal)SigUsr1, static context => context.Cancel = true);
        var ended = await Task.WhenAny(stop.Task, gateway.Failed).ConfigureAwait(false);
        if (ended != stop.Task)
        {
            await gateway.ShutdownAsync(force.Token).ConfigureAwait(false);
            return 1;
        }

        ShuttingDown(logger, config.ShutdownGrace.TotalSeconds);
        await gateway.ShutdownAsync(force.Token).ConfigureAwait(false);
        Stopped(logger);
        return 0;
    }

    private static void ReportFatal(string configPath, ConfigException e)
    {
        foreach (var error in e.Errors)
        {
            Console.Error.WriteLine($"streamgate: {configPath}: {error}");
        }
    }

    private static string Version() =>
        typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0";

    [LoggerMessage(EventId = 10, Level = LogLevel.Information, Message = "StreamGate {Version} started with {Config}")]
    private static partial void Started(ILogger logger, string version, string config);

    [LoggerMessage(EventId = 11, Level = LogLevel.Information, Message = "Shutting down: no new connections; open ones have {Grace} s to finish")]
    private static partial void ShuttingDown(ILogger logger, double grace);

    [LoggerMessage(EventId = 12, Level = LogLevel.Information, Message = "Stopped")]
    private static partial void Stopped(ILogger logger);

    [LoggerMessage(EventId = 13, Level = LogLevel.Warning, Message = "Second stop signal: closing open connections now")]
    private static partial void ForcingStop(ILogger logger);
}
