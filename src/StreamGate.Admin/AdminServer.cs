using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StreamGate.Config;
using StreamGate.Runtime;
using StreamGate.Stores;

namespace StreamGate.Admin;

/// <summary>Hosts the admin API (admin_listen) and the control API (apisix.control) on Kestrel.</summary>
internal sealed class AdminServer : IAsyncDisposable
{
    private readonly List<WebApplication> _apps = [];
    private readonly List<IDisposable> _disposables = [];

    public static async Task<AdminServer> StartAsync(GatewayConfig config, IConfigStore? store, SnapshotHolder snapshots, ILoggerFactory loggers)
    {
        var server = new AdminServer();
        try
        {
            if (config.AdminEnabled && store is not null)
            {
                var admin = CreateApp(config.Admin.Ip, config.Admin.Port, config.Admin.MaxBodyBytes);
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
                var control = CreateApp(config.ControlIp, config.ControlPort, 0);
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

    private static WebApplication CreateApp(string ip, int port, long maxBody)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(IPAddress.Parse(ip), port);
            k.Limits.MaxRequestBodySize = maxBody > 0 ? maxBody : 1024;
            k.AddServerHeader = false;
        });
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
