using Microsoft.Extensions.Logging;
using StreamGate.Admin;
using StreamGate.Config;
using StreamGate.Logging;
using StreamGate.Proxy.Tcp;
using StreamGate.Runtime;
using StreamGate.Stores;
using StreamGate.Stores.Sqlite;
using StreamGate.Upstreams;

namespace StreamGate;

/// <summary>
/// The composition root of a running gateway. Which configuration source runs follows deployment.role:
/// a data plane reads apisix.yaml; a traditional node keeps configuration in its embedded SQLite store and
/// serves the admin API that writes it. Both feed the same snapshot holder the data plane reads.
/// </summary>
internal sealed partial class GatewayHost : IAsyncDisposable
{
    private readonly GatewayConfig _config;
    private readonly ILoggerFactory _loggers;
    private readonly ILogger _logger;
    private readonly SnapshotHolder _snapshots;
    private AccessLogWriter? _accessLog;
    private StandaloneConfigWatcher? _standalone;
    private IConfigStore? _store;
    private StoreConfigSource? _storeSource;
    private AdminServer? _admin;
    private TcpProxyServer? _proxy;
    private HostResolver? _resolver;

    public GatewayHost(GatewayConfig config, ILoggerFactory loggers)
    {
        _config = config;
        _loggers = loggers;
        _logger = loggers.CreateLogger("StreamGate");
        // The upstream runtime logs health changes (once per change) and runs the active probes until shutdown.
        _snapshots = new SnapshotHolder(new UpstreamRuntime(loggers.CreateLogger("StreamGate.Health")));
    }

    /// <summary>Loads configuration and opens every listener; throws <see cref="ConfigException"/> on anything invalid.</summary>
    public async Task StartAsync()
    {
        foreach (var warning in _config.Warnings)
        {
            ConfigWarning(_logger, warning);
        }
        if (_config.Role == "data_plane")
        {
            _resolver = new HostResolver(_logger, _config.Dns);
            _standalone = new StandaloneConfigWatcher(_config.StandalonePath, _snapshots, _logger, resolver: _resolver);
            await _standalone.LoadInitialAsync().ConfigureAwait(false);
        }
        else
        {
            _store = OpenStore(_config.ResolvedSqlitePath);
            if (_store.Revision == 0 && _config.ResolvedSqliteSeed is { } seed)
            {
                var count = await StoreSeeder.SeedAsync(_store, _config.KeyPrefix, seed, TimeProvider.System).ConfigureAwait(false);
                Seeded(_logger, count, seed);
            }
            _resolver = new HostResolver(_logger, _config.Dns);
            _storeSource = new StoreConfigSource(_store, _config.KeyPrefix, _snapshots, _logger, _resolver);
            await _storeSource.LoadInitialAsync().ConfigureAwait(false);
            StoreOpened(_logger, _config.ResolvedSqlitePath, _store.Revision, _snapshots.Current.Routes.Routes.Count);
        }
        if (_config.AccessLog.Enabled)
        {
            var path = _config.AccessLog.Path is "stdout" or "/dev/stdout" ? _config.AccessLog.Path : Path.Combine(_config.ConfigDirectory, _config.AccessLog.Path);
            try
            {
                _accessLog = new AccessLogWriter(path, new AccessLogFormat(_config.AccessLog.Format), _logger);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ConfigException("nginx_config.stream.access_log", $"cannot open the access log {path}: {e.Message}; choose a writable path or stdout");
            }
        }
        // The admin and control APIs get their share of descriptors first, so the data plane's cap leaves it to them.
        var apiReserve = (_config.AdminEnabled ? AdminServer.DescriptorsPerServer : 0) + (_config.ControlEnabled ? AdminServer.DescriptorsPerServer : 0);
        _proxy = new TcpProxyServer(_config, _snapshots, _accessLog, _logger, apiReserve);
        _admin = await AdminServer.StartAsync(_config, _store, _snapshots, _loggers).ConfigureAwait(false);
        _proxy.Start();
        _standalone?.Start();
        _storeSource?.Start();
        if (_config.AdminEnabled)
        {
            AdminListening(_logger, _config.Admin.Ip, _config.Admin.Port);
        }
    }

    private static SqliteConfigStore OpenStore(string path)
    {
        try
        {
            return SqliteConfigStore.Open(path);
        }
        catch (Exception e) when (e is Microsoft.Data.Sqlite.SqliteException or InvalidOperationException or IOException or UnauthorizedAccessException)
        {
            throw new ConfigException("deployment.sqlite.path", $"cannot open the store {path}: {e.Message}");
        }
    }

    /// <summary>Completes when the data plane has no event loop left: the process should exit non-zero.</summary>
    public Task Failed => _proxy?.AllLoopsFailed ?? Task.Delay(Timeout.Infinite);

    /// <summary>
    /// Stops in the order that loses nothing: listeners first (what waits in their backlogs is accepted and
    /// served), then the admin API and configuration watchers, then open connections get the grace period.
    /// <paramref name="force"/> (a second SIGTERM) cuts the grace period short.
    /// </summary>
    public async Task ShutdownAsync(CancellationToken force = default)
    {
        if (_proxy is not null)
        {
            await _proxy.StopAcceptingAsync().ConfigureAwait(false);
        }
        if (_admin is not null)
        {
            await _admin.DisposeAsync().ConfigureAwait(false);
        }
        if (_standalone is not null)
        {
            await _standalone.DisposeAsync().ConfigureAwait(false);
        }
        if (_storeSource is not null)
        {
            await _storeSource.DisposeAsync().ConfigureAwait(false);
        }
        // No configuration is applied any more: the probes stop (open connections keep their nodes).
        await _snapshots.Upstreams.DisposeAsync().ConfigureAwait(false);
        if (_proxy is not null)
        {
            await _proxy.DrainAsync(_config.ShutdownGrace, force).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _snapshots.Upstreams.DisposeAsync().ConfigureAwait(false);
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync().ConfigureAwait(false);
        }
        if (_store is not null)
        {
            await _store.DisposeAsync().ConfigureAwait(false);
        }
        if (_accessLog is not null)
        {
            await _accessLog.DisposeAsync().ConfigureAwait(false);
        }
        // The sources were handed this resolver, so they leave it (and its expiry timer) to us.
        _resolver?.Dispose();
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "{Warning}")]
    private static partial void ConfigWarning(ILogger logger, string warning);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Store {Path} opened at revision {Revision}: {Routes} stream routes")]
    private static partial void StoreOpened(ILogger logger, string path, long revision, int routes);

    [LoggerMessage(EventId = 4, Level = LogLevel.Information, Message = "New store: imported {Count} objects from {Seed}")]
    private static partial void Seeded(ILogger logger, int count, string seed);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Admin API listening on http://{Ip}:{Port}/apisix/admin")]
    private static partial void AdminListening(ILogger logger, string ip, int port);
}
