using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StreamGate.Config;
using StreamGate.Runtime;
using StreamGate.Stores;

namespace StreamGate.Admin;

/// <summary>Hosts the admin API (admin_listen) and the control API (apisix.control) on Kestrel.</summary>
internal sealed class AdminServer : IAsyncDisposable
{
    /// <summary>
    /// Connections each server serves at once (Kestrel's MaxConcurrentConnections; one over it is accepted and
    /// closed at once). APISIX has no such key. The clients are deployment tools, scripts and operators: the
    /// busiest in this repository, bench/admin.py, runs 8 by default; 64 leaves room for a burst and keeps what the two
    /// servers can take from the data plane's descriptors small and known (<see cref="DescriptorReserve"/>).
    /// </summary>
    public const int MaxConnections = 64;

    /// <summary>
    /// Connections accepted over <see cref="MaxConnections"/> and not yet closed by Kestrel: each holds a
    /// descriptor for the moment between accept() and Kestrel's close. A few, for bursts; a flood that goes past
    /// them meets EMFILE, which the listener waits out (<see cref="BackoffSocketListener"/>).
    /// </summary>
    private const int OverCapSpare = 8;

    /// <summary>Descriptors one server can hold: its connections at the cap, its listening socket, the spare.</summary>
    public const int DescriptorsPerServer = MaxConnections + 1 + OverCapSpare;

    /// <summary>
    /// Descriptors the admin and control servers together can hold (146), for the data plane's budget: the
    /// open-files limit minus this minus what the runtime itself keeps open is what the event loops may use.
    /// Kestrel opens nothing else per server (its heartbeat is a timer; sockets share the runtime's one epoll).
    /// </summary>
    public const int DescriptorReserve = 2 * DescriptorsPerServer;

    private readonly List<WebApplication> _apps = [];
    private readonly List<IDisposable> _disposables = [];

    public static async Task<AdminServer> StartAsync(GatewayConfig config, IConfigStore? store, SnapshotHolder snapshots, ILoggerFactory loggers)
    {
        var server = new AdminServer();
        try
        {
            if (config.AdminEnabled && store is not null)
            {
                var admin = CreateApp("Admin API", config.Admin.Ip, config.Admin.Port, config.Admin.MaxBodyBytes, loggers);
                var logger = loggers.CreateLogger("StreamGate.Admin");
                admin.Use(new UnhandledFailures("Admin API", logger).InvokeAsync);
                var authorization = new AdminAuthorization(config.Admin);
                admin.Use(authorization.InvokeAsync);
                var api = new AdminApi(store, config, TimeProvider.System, logger);
                api.Map(admin);
                server._disposables.Add(api);
                await StartAppAsync(admin, "deployment.admin.admin_listen", config.Admin.Ip, config.Admin.Port);
                server._apps.Add(admin);
            }
            if (config.ControlEnabled)
            {
                var control = CreateApp("Control API", config.ControlIp, config.ControlPort, 0, loggers);
                control.Use(new UnhandledFailures("Control API", loggers.CreateLogger("StreamGate.Admin")).InvokeAsync);
                ControlApi.Map(control, snapshots, config.Role == "data_plane" ? "" : config.KeyPrefix);
                await StartAppAsync(control, "apisix.control", config.ControlIp, config.ControlPort);
                server._apps.Add(control);
            }
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        return server;
    }

    /// <summary>
    /// A server whose every setting comes from config.yaml. The empty builder reads no appsettings*.json, no
    /// ASPNETCORE_/DOTNET_ environment variables and no command line: with the default sources, a file or a
    /// variable in the working directory could bind another admin listener (ASPNETCORE_URLS, Kestrel:Endpoints)
    /// past the checks on admin_listen, and an empty appsettings.json stopped the gateway from starting.
    /// </summary>
    private static WebApplication CreateApp(string name, string ip, int port, long maxBody, ILoggerFactory loggers)
    {
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions { Args = [] });
        builder.WebHost.UseKestrelCore();
        builder.Services.AddRoutingCore();
        // Kestrel's own logs stay off (per-request noise): the empty builder adds no logging provider, and what the
        // gateway must hear goes through `loggers`.
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Parse(ip), port);
            k.Limits.MaxRequestBodySize = maxBody > 0 ? maxBody : 1024;
            k.Limits.MaxConcurrentConnections = MaxConnections;
            // No endpoint upgrades (no WebSockets). An upgraded connection leaves the count above for a second
            // one, so any other value would let connections past DescriptorReserve.
            k.Limits.MaxConcurrentUpgradedConnections = 0;
            k.AddServerHeader = false;
        });
        // Kestrel binds with the IConnectionListenerFactory registered last: the decorator replaces the default
        // transport there and keeps it, under its own type, for endpoints that are not IP.
        builder.Services.TryAddSingleton<SocketTransportFactory>();
        var logger = loggers.CreateLogger("StreamGate.Admin");
        builder.Services.Replace(ServiceDescriptor.Singleton<IConnectionListenerFactory>(services => new BackoffSocketTransportFactory(
            services.GetRequiredService<SocketTransportFactory>(),
            services.GetRequiredService<IOptions<SocketTransportOptions>>().Value,
            services.GetRequiredService<ILoggerFactory>(),
            logger,
            name,
            TimeProvider.System)));
        return builder.Build();
    }

    private static async Task StartAppAsync(WebApplication app, string setting, string ip, int port)
    {
        try
        {
            await app.StartAsync().ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new ConfigException(setting, $"cannot listen on {ip}:{port}: {e.Message}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var app in _apps)
        {
            await app.StopAsync().ConfigureAwait(false);
            await app.DisposeAsync().ConfigureAwait(false);
        }
        _apps.Clear();
        foreach (var disposable in _disposables)
        {
            disposable.Dispose();
        }
        _disposables.Clear();
    }
}

/// <summary>
/// The last line of defence: an exception no endpoint handled is logged once, with its cause, and answered
/// 500 {"error_msg": ...} instead of an empty body.
/// </summary>
internal sealed partial class UnhandledFailures(string server, ILogger logger)
{
    public async Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        try
        {
            await next(context);
        }
        catch (Exception e) when (e is not OperationCanceledException || !context.RequestAborted.IsCancellationRequested)
        {
            Failed(logger, e, server, context.Request.Method, context.Request.Path.Value ?? "", e.Message);
            if (!context.Response.HasStarted)
            {
                context.Response.Clear();
                await AdminErrors.Error(StatusCodes.Status500InternalServerError, $"internal error: {e.Message}").ExecuteAsync(context);
            }
        }
    }

    [LoggerMessage(EventId = 312, Level = LogLevel.Error, Message = "{Server} {Method} {Path} failed: {Cause}")]
    private static partial void Failed(ILogger logger, Exception exception, string server, string method, string path, string cause);
}
