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
                var authorization = new AdminAuthorization(config.Admin);
                admin.Use(authorization.InvokeAsync);
                var api = new AdminApi(store, config, TimeProvider.System);
                api.Map(admin);
                server._disposables.Add(api);
                await StartAppAsync(admin, "deployment.admin.admin_listen", config.Admin.Ip, config.Admin.Port);
                server._apps.Add(admin);
            }
            if (config.ControlEnabled)
            {
                var control = CreateApp("Control API", config.ControlIp, config.ControlPort, 0, loggers);
                ControlApi.Map(control, snapshots);
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

    private static WebApplication CreateApp(string name, string ip, int port, long maxBody, ILoggerFactory loggers)
    {
        var builder = WebApplication.CreateSlimBuilder();
        // Kestrel's own logs stay off (per-request noise); what the gateway must hear goes through `loggers`.
        builder.Logging.ClearProviders();
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
