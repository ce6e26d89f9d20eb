using Microsoft.Extensions.Logging;
using StreamGate.Config;
using StreamGate.Logging;
using StreamGate.Proxy.Tcp;

namespace StreamGate.Runtime;

/// <summary>The composition root of a running gateway: configuration source, data plane and access log.</summary>
internal sealed partial class Gateway : IAsyncDisposable
{
    private readonly GatewayConfig _config;
    private readonly ILogger _logger;
    private readonly SnapshotHolder _snapshots = new();
    private AccessLogWriter? _accessLog;
    private StandaloneConfigWatcher? _watcher;
    private TcpProxyServer? _proxy;

    public Gateway(GatewayConfig config, ILoggerFactory loggers)
    {
        _config = config;
        _logger = loggers.CreateLogger("StreamGate");
    }

    public SnapshotHolder Snapshots => _snapshots;

    /// <summary>Loads routes and opens every listener; throws <see cref="ConfigException"/> on anything invalid.</summary>
    public void Start()
    {
        foreach (var warning in _config.Warnings)
        {
            ConfigWarning(_logger, warning);
        }
        _watcher = new StandaloneConfigWatcher(_config.StandalonePath, _snapshots, _logger);
        _watcher.LoadInitial();
        if (_config.AccessLog.Enabled)
        {
            var path = _config.AccessLog.Path is "stdout" or "/dev/stdout" ? _config.AccessLog.Path : Path.Combine(_config.ConfigDirectory, _config.AccessLog.Path);
            _accessLog = new AccessLogWriter(path, new AccessLogFormat(_config.AccessLog.Format));
        }
        _proxy = new TcpProxyServer(_config, _snapshots, _accessLog, _logger);
        _proxy.Start();
        _watcher.Start();
    }

    public async Task ShutdownAsync()
    {
        if (_watcher is not null)
        {
            await _watcher.DisposeAsync().ConfigureAwait(false);
        }
        if (_proxy is not null)
        {
            await _proxy.ShutdownAsync(_config.ShutdownGrace).ConfigureAwait(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_proxy is not null)
        {
            await _proxy.DisposeAsync().ConfigureAwait(false);
        }
        if (_accessLog is not null)
        {
            await _accessLog.DisposeAsync().ConfigureAwait(false);
        }
    }

    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "{Warning}")]
    private static partial void ConfigWarning(ILogger logger, string warning);
}
