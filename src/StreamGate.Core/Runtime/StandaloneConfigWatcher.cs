using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using StreamGate.Config;

namespace StreamGate.Runtime;

/// <summary>
/// Serves apisix.yaml: loads it at start (an invalid file refuses to start), then polls it every second as
/// APISIX does and applies a changed file whole. A changed file that is invalid or not finished (#END missing)
/// is logged with every error and the last good configuration keeps serving.
/// </summary>
internal sealed partial class StandaloneConfigWatcher : IAsyncDisposable
{
    private readonly string _path;
    private readonly SnapshotHolder _snapshots;
    private readonly ILogger _logger;
    private readonly TimeSpan _interval;
    private readonly SnapshotBuilder _builder;
    private readonly CancellationTokenSource _stop = new();
    private byte[] _lastHash = [];
    private long _version;
    private Task? _polling;

    /// <param name="resolver">Looks up node host names before each build; one of its own unless a test supplies one.</param>
    public StandaloneConfigWatcher(string path, SnapshotHolder snapshots, ILogger logger, TimeSpan? interval = null, HostResolver? resolver = null)
    {
        _path = path;
        _snapshots = snapshots;
        _logger = logger;
        _interval = interval ?? TimeSpan.FromSeconds(1);
        _builder = new SnapshotBuilder(resolver ?? new HostResolver(logger));
    }

    /// <summary>Reads, validates and builds the file's configuration without applying it (streamgate validate).</summary>
    public static async Task<RuntimeSnapshot> LoadSnapshotAsync(string path, long version, HostResolver resolver, CancellationToken cancellation = default)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(StandaloneFile.FileName, $"cannot read {path}: {e.Message}");
        }
        return await new SnapshotBuilder(resolver).BuildAsync(StandaloneFile.Parse(text), version, cancellation).ConfigureAwait(false);
    }

    /// <summary>The first load: errors propagate, so a gateway never starts on a bad file.</summary>
    public async Task LoadInitialAsync(CancellationToken cancellation = default)
    {
        var text = File.Exists(_path) ? File.ReadAllText(_path) : throw new ConfigException(StandaloneFile.FileName, $"{_path} does not exist; deployment.role data_plane with config_provider yaml reads its routes from it");
        _lastHash = SHA256.HashData(Encoding.UTF8.GetBytes(text));
        var snapshot = await _builder.BuildAsync(StandaloneFile.Parse(text), ++_version, cancellation).ConfigureAwait(false);
        _snapshots.Apply(snapshot);
        Applied(_logger, _path, snapshot.Routes.Routes.Count, snapshot.Version);
    }

    public void Start() => _polling = PollAsync(_stop.Token);

    private async Task PollAsync(CancellationToken cancellation)
    {
        using var timer = new PeriodicTimer(_interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellation).ConfigureAwait(false))
            {
                await CheckOnceAsync(cancellation).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Applies the file if its content changed since the last look. Throws only when cancelled.</summary>
    public async Task CheckOnceAsync(CancellationToken cancellation = default)
    {
        string text;
        try
        {
            text = File.ReadAllText(_path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Unreadable(_logger, _path, e.Message);
            return;
        }
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(text));
        if (hash.AsSpan().SequenceEqual(_lastHash))
        {
            return;
        }
        try
        {
            var snapshot = await _builder.BuildAsync(StandaloneFile.Parse(text), _version + 1, cancellation).ConfigureAwait(false);
            _version++;
            _lastHash = hash;
            _snapshots.Apply(snapshot);
            Applied(_logger, _path, snapshot.Routes.Routes.Count, snapshot.Version);
        }
        catch (ConfigException e)
        {
            // Remember the bad content so it is reported once, not every second; a fixed file has another hash.
            _lastHash = hash;
            Rejected(_logger, _path, e.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_polling is not null)
        {
            await _polling.ConfigureAwait(false);
        }
        _stop.Dispose();
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "Applied {Path}: {Routes} stream routes (version {Version})")]
    private static partial void Applied(ILogger logger, string path, int routes, long version);

    [LoggerMessage(EventId = 201, Level = LogLevel.Error, Message = "Rejected {Path}; the last good configuration keeps serving:\n{Errors}")]
    private static partial void Rejected(ILogger logger, string path, string errors);

    [LoggerMessage(EventId = 202, Level = LogLevel.Warning, Message = "Cannot read {Path}: {Error}; the last good configuration keeps serving")]
    private static partial void Unreadable(ILogger logger, string path, string error);
}
