using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using StreamGate.Config;

namespace StreamGate.Runtime;

/// <summary>
/// Serves apisix.yaml: loads it at start (an invalid file refuses to start), then polls it every second as
/// APISIX does and applies a changed file whole. A changed file that is invalid, not finished (#END missing),
/// too large, not UTF-8, or that fails to build for any reason is logged with every error and the last good
/// configuration keeps serving; nothing a file holds stops the polling.
/// </summary>
/// <remarks>
/// A poll costs one stat while the file is unchanged: it is read (and hashed) only when its modification time or
/// size differs from the last look, as APISIX compares the modification time. Re-reading and hashing a 50 MB
/// file every second took 16-24% of a core. The hash then spares a rebuild when a file was touched but not changed.
/// </remarks>
internal sealed partial class StandaloneConfigWatcher : IAsyncDisposable
{
    private readonly string _path;
    private readonly SnapshotHolder _snapshots;
    private readonly ILogger _logger;
    private readonly TimeSpan _interval;
    private readonly HostResolver _resolver;
    private readonly bool _ownsResolver;
    private readonly SnapshotBuilder _builder;
    private readonly Func<string, byte[]> _read;
    // The configuration applied last, rebuilt as it is when a DNS answer it uses expires (_dnsExpired set).
    private ConfigSet? _lastSet;
    private int _dnsExpired;
    private readonly CancellationTokenSource _stop = new();
    private byte[] _lastHash = [];
    private FileStamp? _lastStamp;
    // Why the file could not be read at the last look (null: it could): logged when it changes, not every second.
    private string? _unreadable;
    private long _version;
    private Task? _polling;

    /// <param name="resolver">Looks up node host names before each build; one of its own unless a test supplies one.</param>
    /// <param name="read">Reads the file's bytes; <see cref="StandaloneFile.ReadBytes"/> unless a test counts the reads.</param>
    public StandaloneConfigWatcher(string path, SnapshotHolder snapshots, ILogger logger, TimeSpan? interval = null, HostResolver? resolver = null, Func<string, byte[]>? read = null)
    {
        _path = path;
        _snapshots = snapshots;
        _logger = logger;
        _interval = interval ?? TimeSpan.FromSeconds(1);
        _ownsResolver = resolver is null;
        _resolver = resolver ?? new HostResolver(logger);
        _builder = new SnapshotBuilder(_resolver, snapshots.Upstreams);
        _read = read ?? StandaloneFile.ReadBytes;
        // An expired DNS answer rebuilds the file's last configuration at the next poll (raised on a timer thread).
        _resolver.Expired += OnDnsExpired;
    }

    private void OnDnsExpired() => Volatile.Write(ref _dnsExpired, 1);

    /// <summary>Reads, validates and builds the file's configuration without applying it (streamgate validate).</summary>
    public static async Task<RuntimeSnapshot> LoadSnapshotAsync(string path, long version, HostResolver resolver, CancellationToken cancellation = default) =>
        await BuildOrThrowAsync(new SnapshotBuilder(resolver), StandaloneFile.Load(path), version, cancellation).ConfigureAwait(false);

    /// <summary>The first load: every problem is a <see cref="ConfigException"/>, so a gateway never starts on a bad file.</summary>
    public async Task LoadInitialAsync(CancellationToken cancellation = default)
    {
        if (!File.Exists(_path))
        {
            throw new ConfigException(StandaloneFile.FileName, $"{_path} does not exist; deployment.role data_plane with config_provider yaml reads its routes from it");
        }
        // Taken before the read: a change made while it reads shows as another stamp at the next look.
        var stamp = FileStamp.Of(new FileInfo(_path));
        byte[] bytes;
        try
        {
            bytes = _read(_path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(StandaloneFile.FileName, $"cannot read {_path}: {e.Message}");
        }
        _snapshots.CountSourceRead();
        _lastStamp = stamp;
        _lastHash = SHA256.HashData(bytes);
        var set = StandaloneFile.Parse(StandaloneFile.Decode(bytes));
        var snapshot = await BuildOrThrowAsync(_builder, set, ++_version, cancellation).ConfigureAwait(false);
        _snapshots.Apply(snapshot);
        _lastSet = set;
        Applied(_logger, _path, snapshot.Routes.Routes.Count, snapshot.Version);
    }

    /// <summary>Builds, turning anything the build throws into a <see cref="ConfigException"/> with the reason.</summary>
    private static async Task<RuntimeSnapshot> BuildOrThrowAsync(SnapshotBuilder builder, ConfigSet set, long version, CancellationToken cancellation)
    {
        try
        {
            return await builder.BuildAsync(set, version, cancellation).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not (ConfigException or OperationCanceledException))
        {
            throw new ConfigException(StandaloneFile.FileName, $"the configuration cannot be built: {e.Message} ({e.GetType().Name})");
        }
    }

    public void Start() => _polling = PollAsync(_stop.Token);

    private async Task PollAsync(CancellationToken cancellation)
    {
        using var timer = new PeriodicTimer(_interval);
        try
        {
            while (await timer.WaitForNextTickAsync(cancellation).ConfigureAwait(false))
            {
                try
                {
                    await CheckOnceAsync(cancellation).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
                {
                    throw;
                }
#pragma warning disable CA1031 // The watcher outlives anything one look at the file meets; the next look tries again.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    CheckFailed(_logger, _path, e);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Applies the file if it changed since the last look. Throws only when cancelled.</summary>
    public async Task CheckOnceAsync(CancellationToken cancellation = default)
    {
        // Taken first: a change of the file rebuilds anyway, and asks DNS again with it.
        var dnsExpired = Interlocked.Exchange(ref _dnsExpired, 0) == 1;
        await CheckFileAsync(dnsExpired, cancellation).ConfigureAwait(false);
    }

    private async Task CheckFileAsync(bool dnsExpired, CancellationToken cancellation)
    {
        var stamp = default(FileStamp);
        byte[] bytes;
        try
        {
            _snapshots.CountSourceCheck();
            var info = new FileInfo(_path);
            if (!info.Exists)
            {
                Unreadable("it does not exist");
                await RebuildIfExpiredAsync(dnsExpired, cancellation).ConfigureAwait(false);
                return;
            }
            stamp = FileStamp.Of(info);
            if (stamp == _lastStamp)
            {
                await RebuildIfExpiredAsync(dnsExpired, cancellation).ConfigureAwait(false);
                return;
            }
            bytes = _read(_path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Unreadable(e.Message);
            await RebuildIfExpiredAsync(dnsExpired, cancellation).ConfigureAwait(false);
            return;
        }
        catch (ConfigException e)
        {
            // Too large: not read at all, and reported once until the file changes.
            _lastStamp = stamp;
            Reject(e.Message);
            await RebuildIfExpiredAsync(dnsExpired, cancellation).ConfigureAwait(false);
            return;
        }
        _snapshots.CountSourceRead();
        if (_unreadable is not null)
        {
            _unreadable = null;
            ReadableAgain(_logger, _path);
        }
        _lastStamp = stamp;
        var hash = SHA256.HashData(bytes);
        if (hash.AsSpan().SequenceEqual(_lastHash))
        {
            await RebuildIfExpiredAsync(dnsExpired, cancellation).ConfigureAwait(false);
            return;
        }
        // Remember the content before applying it, so a bad one is reported once, not every second.
        _lastHash = hash;
        try
        {
            var set = StandaloneFile.Parse(StandaloneFile.Decode(bytes));
            var snapshot = await BuildOrThrowAsync(_builder, set, _version + 1, cancellation).ConfigureAwait(false);
            _version++;
            _snapshots.Apply(snapshot);
            _lastSet = set;
            Applied(_logger, _path, snapshot.Routes.Routes.Count, snapshot.Version);
        }
        catch (ConfigException e)
        {
            Reject(e.Message);
            // The served configuration goes on: its names are the ones in use again (the refused build looked up its
            // own), and an answer that expired meanwhile is followed now rather than when a good file comes.
            if (dnsExpired)
            {
                await RebuildIfExpiredAsync(dnsExpired, cancellation).ConfigureAwait(false);
            }
            else if (_lastSet is { } served)
            {
                _ = await _resolver.ResolveAsync(served, cancellation).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The file is as it was, but a DNS answer its configuration uses expired: the same set, built on fresh answers.</summary>
    private async Task RebuildIfExpiredAsync(bool dnsExpired, CancellationToken cancellation)
    {
        if (!dnsExpired || _lastSet is not { } set)
        {
            return;
        }
        try
        {
            var snapshot = await BuildOrThrowAsync(_builder, set, _version + 1, cancellation).ConfigureAwait(false);
            _version++;
            // The same configuration on fresh answers: a newer file refused meanwhile stays reported.
            _snapshots.Apply(snapshot, keepRejection: true);
        }
        catch (ConfigException e)
        {
            Reject(e.Message);
        }
    }

    private void Reject(string reason)
    {
        _snapshots.Reject(null, reason);
        Rejected(_logger, _path, reason);
    }

    private void Unreadable(string reason)
    {
        if (reason != _unreadable)
        {
            _unreadable = reason;
            Unreadable(_logger, _path, reason);
        }
    }

    public async ValueTask DisposeAsync()
    {
        _resolver.Expired -= OnDnsExpired;
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_polling is not null)
        {
            await _polling.ConfigureAwait(false);
        }
        _stop.Dispose();
        if (_ownsResolver)
        {
            _resolver.Dispose();
        }
    }

    /// <summary>What a poll compares before reading: the modification time (to the tick the file system keeps) and the size.</summary>
    private readonly record struct FileStamp(long ModifiedTicks, long Length)
    {
        public static FileStamp Of(FileInfo info) => new(info.LastWriteTimeUtc.Ticks, info.Length);
    }

    [LoggerMessage(EventId = 200, Level = LogLevel.Information, Message = "Applied {Path}: {Routes} stream routes (version {Version})")]
    private static partial void Applied(ILogger logger, string path, int routes, long version);

    [LoggerMessage(EventId = 201, Level = LogLevel.Error, Message = "Rejected {Path}; the last good configuration keeps serving:\n{Errors}")]
    private static partial void Rejected(ILogger logger, string path, string errors);

    [LoggerMessage(EventId = 202, Level = LogLevel.Warning, Message = "Cannot read {Path}: {Error}; the last good configuration keeps serving (said again only when this changes)")]
    private static partial void Unreadable(ILogger logger, string path, string error);

    [LoggerMessage(EventId = 203, Level = LogLevel.Information, Message = "{Path} can be read again")]
    private static partial void ReadableAgain(ILogger logger, string path);

    [LoggerMessage(EventId = 204, Level = LogLevel.Error, Message = "Checking {Path} failed; the last good configuration keeps serving and the next check tries again")]
    private static partial void CheckFailed(ILogger logger, string path, Exception exception);
}
