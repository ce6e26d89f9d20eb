using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using StreamGate.Config;
using StreamGate.Stores;

namespace StreamGate.Runtime;

/// <summary>
/// Serves the configuration kept in a store (SQLite now, etcd later): reads every key under the prefix at
/// start, then follows the store's watch and rebuilds the snapshot after each burst of changes. Changes that
/// arrive while a snapshot is being built are applied together by the next build, so 10,000 writes in a row
/// cost a handful of builds, not 10,000. Parsed objects are cached per key and revision.
/// </summary>
internal sealed partial class StoreConfigSource : IAsyncDisposable
{
    private readonly IConfigStore _store;
    private readonly string _prefix;
    private readonly SnapshotHolder _snapshots;
    private readonly ILogger _logger;
    private readonly Dictionary<string, StoredValue> _items = new(StringComparer.Ordinal);
    // Parsed objects per key and revision, with why a value could not be parsed (kept, so it stays reported).
    private readonly Dictionary<string, (long ModRevision, object? Parsed, SkippedObject? Skipped)> _parsed = new(StringComparer.Ordinal);
    // What the last applied snapshot skipped: a skip is logged when it first appears, not on every build.
    private HashSet<SkippedObject> _lastSkipped = [];
    // "Something changed since the last build": one pending signal at most, extra ones dropped.
    private readonly Channel<bool> _changed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _itemsLock = new();
    // One build at a time, in order (a full reload after compaction can race the build loop); a semaphore, not a
    // lock, because a build awaits its host names.
    private readonly SemaphoreSlim _buildGate = new(1, 1);
    private readonly HostResolver _resolver;
    private readonly bool _ownsResolver;
    private readonly SnapshotBuilder _builder;
    private long _revision;
    private Task? _watching;
    private Task? _building;

    /// <param name="resolver">Looks up node host names before each build; one of its own unless a test supplies one.</param>
    public StoreConfigSource(IConfigStore store, string prefix, SnapshotHolder snapshots, ILogger logger, HostResolver? resolver = null)
    {
        _store = store;
        _prefix = prefix.TrimEnd('/') + "/";
        _snapshots = snapshots;
        _logger = logger;
        _ownsResolver = resolver is null;
        _resolver = resolver ?? new HostResolver(logger);
        _builder = new SnapshotBuilder(_resolver, snapshots.Upstreams);
        // An expired DNS answer is one more change: the next build asks again (raised on a timer thread).
        _resolver.Expired += OnDnsExpired;
    }

    private void OnDnsExpired() => _changed.Writer.TryWrite(true);

    public async Task LoadInitialAsync(CancellationToken cancellation = default)
    {
        var range = await _store.RangeAsync(_prefix, cancellation).ConfigureAwait(false);
        lock (_itemsLock)
        {
            _items.Clear();
            foreach (var item in range.Items)
            {
                _items[item.Key] = item;
            }
            _revision = range.Revision;
        }
        await RebuildAsync(cancellation).ConfigureAwait(false);
    }

    public void Start()
    {
        _watching = WatchAsync(_stop.Token);
        _building = BuildLoopAsync(_stop.Token);
    }

    private async Task WatchAsync(CancellationToken cancellation)
    {
        var reload = false;
        while (!cancellation.IsCancellationRequested)
        {
            try
            {
                if (reload)
                {
                    // Fell too far behind: start again from a full read.
                    reload = false;
                    await LoadInitialAsync(cancellation).ConfigureAwait(false);
                }
                await foreach (var change in _store.WatchAsync(_prefix, _revision, cancellation).ConfigureAwait(false))
                {
                    lock (_itemsLock)
                    {
                        if (change.Type == StoreChangeType.Put)
                        {
                            _items[change.Key] = new StoredValue(change.Key, change.Value!, change.CreateRevision, change.Revision);
                        }
                        else
                        {
                            _items.Remove(change.Key);
                        }
                        _revision = change.Revision;
                    }
                    _changed.Writer.TryWrite(true);
                }
                return;
            }
            catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
            {
                return;
            }
            catch (StoreCompactedException)
            {
                reload = true;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
#pragma warning disable CA1031 // The watch must outlive any store error: without it no later write would ever be applied.
            catch (Exception e)
#pragma warning restore CA1031
            {
                WatchFailed(_logger, _revision, e);
                try
                {
                    await Task.Delay(WatchRetry, cancellation).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task BuildLoopAsync(CancellationToken cancellation)
    {
        try
        {
            while (true)
            {
                await _changed.Reader.ReadAsync(cancellation).ConfigureAwait(false);
                var busy = await RebuildAsync(cancellation).ConfigureAwait(false);
                // Under a stream of writes, rebuilding back to back would take a whole core from the admin API
                // and the data plane: rest twice as long as the build kept a core busy (a third of a core at
                // most). A 10,000-route build takes a few milliseconds, so a write still goes live well within
                // 100 ms. Time spent waiting on DNS is not counted: it costs no CPU, and a name that times out
                // must not add twice its timeout before the next write goes live.
                var pause = busy * 2;
                if (pause > TimeSpan.FromMilliseconds(1))
                {
                    await Task.Delay(pause, cancellation).ConfigureAwait(false);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Builds and applies a snapshot of the items read so far; returns the CPU-bound part of the time it took.
    /// Never throws but when cancelled: objects that cannot be served are skipped (and reported), and a build that
    /// fails as a whole keeps the last snapshot serving, so neither the build loop nor a start dies on stored data.
    /// </summary>
    private async Task<TimeSpan> RebuildAsync(CancellationToken cancellation)
    {
        await _buildGate.WaitAsync(cancellation).ConfigureAwait(false);
        long revision = 0;
        var started = Stopwatch.GetTimestamp();
        var busy = TimeSpan.Zero;
        try
        {
            var skipped = new List<SkippedObject>();
            (var config, revision) = Collect(skipped);
            busy = Stopwatch.GetElapsedTime(started);
            var hosts = await ResolveAsync(config, cancellation).ConfigureAwait(false);
            started = Stopwatch.GetTimestamp();
            var problems = new List<BuildProblem>();
            var built = _builder.Build(config, revision, problems, hosts);
            foreach (var problem in problems)
            {
                skipped.Add(problem.ToSkipped(_prefix));
            }
            skipped.Sort((a, b) => string.CompareOrdinal(a.Key, b.Key));
            _snapshots.Apply(new RuntimeSnapshot(built.Routes, built.Source, revision, skipped, built.Upstreams));
            ReportSkipped(skipped, revision);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            throw;
        }
#pragma warning disable CA1031 // Whatever a build throws, the last snapshot keeps serving and the loop goes on.
        catch (Exception e)
#pragma warning restore CA1031
        {
            BuildFailed(_logger, revision, e);
            _snapshots.Reject(revision, $"the configuration could not be built: {e.Message} ({e.GetType().Name})");
        }
        finally
        {
            _buildGate.Release();
        }
        return busy + Stopwatch.GetElapsedTime(started);
    }

    /// <summary>The set's host names; should the resolver itself fail, none (their nodes get no address until the next build).</summary>
    private async Task<IReadOnlyDictionary<string, System.Net.IPAddress?>> ResolveAsync(ConfigSet config, CancellationToken cancellation)
    {
        try
        {
            return await _resolver.ResolveAsync(config, cancellation).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            throw;
        }
#pragma warning disable CA1031 // DNS trouble must not stop a configuration from being applied.
        catch (Exception e)
#pragma warning restore CA1031
        {
            ResolveFailed(_logger, e);
            return new Dictionary<string, System.Net.IPAddress?>();
        }
    }

    /// <summary>Logs each object skipped that the last build did not skip (or skipped for another reason), one line each, a bounded number of lines.</summary>
    private void ReportSkipped(List<SkippedObject> skipped, long revision)
    {
        var current = new HashSet<SkippedObject>(skipped);
        var logged = 0;
        var more = 0;
        foreach (var item in skipped)
        {
            if (_lastSkipped.Contains(item))
            {
                continue;
            }
            if (logged < MaxSkipLines)
            {
                Skipped(_logger, item.Key, revision, item.Reason);
                logged++;
            }
            else
            {
                more++;
            }
        }
        if (more > 0)
        {
            SkippedMore(_logger, more, revision);
        }
        _lastSkipped = current;
    }

    /// <summary>Parses what changed and gathers everything into one set, in route creation order.</summary>
    private (ConfigSet Config, long Revision) Collect(List<SkippedObject> skipped)
    {
        StoredValue[] items;
        long revision;
        lock (_itemsLock)
        {
            items = [.. _items.Values];
            revision = _revision;
        }
        var routes = new List<(long Order, StreamRouteConfig Route)>();
        var upstreams = new Dictionary<string, UpstreamConfig>(StringComparer.Ordinal);
        var services = new Dictionary<string, ServiceConfig>(StringComparer.Ordinal);
        var live = new HashSet<string>(StringComparer.Ordinal);
        foreach (var item in items)
        {
            live.Add(item.Key);
            var (parsed, problem) = Parse(item);
            if (problem is not null)
            {
                skipped.Add(problem);
            }
            switch (parsed)
            {
                case StreamRouteConfig route:
                    routes.Add((item.CreateRevision, route));
                    break;
                case UpstreamConfig upstream:
                    upstreams[upstream.Id!] = upstream;
                    break;
                case ServiceConfig service:
                    services[service.Id] = service;
                    break;
            }
        }
        foreach (var key in _parsed.Keys.Where(k => !live.Contains(k)).ToList())
        {
            _parsed.Remove(key);
        }
        // Routes are tried in the order they were created.
        routes.Sort((a, b) => a.Order.CompareTo(b.Order));
        return (new ConfigSet([.. routes.Select(r => r.Route)], upstreams, services), revision);
    }

    private (object? Parsed, SkippedObject? Skipped) Parse(StoredValue item)
    {
        if (_parsed.TryGetValue(item.Key, out var cached) && cached.ModRevision == item.ModRevision)
        {
            return (cached.Parsed, cached.Skipped);
        }
        var kind = item.Key.AsSpan(_prefix.Length);
        var slash = kind.IndexOf('/');
        var resource = slash < 0 ? kind.ToString() : kind[..slash].ToString();
        object? parsed = null;
        string? reason = null;
        var errors = new List<ConfigError>();
        try
        {
            if (JsonNode.Parse(item.Value) is JsonObject obj)
            {
                parsed = resource switch
                {
                    "stream_routes" => ResourceParser.ParseStreamRoute(obj, item.Key, errors),
                    "upstreams" => ResourceParser.ParseUpstream(obj, item.Key, errors),
                    "services" => ResourceParser.ParseService(obj, item.Key, errors),
                    _ => null,
                };
            }
            else if (resource is "stream_routes" or "upstreams" or "services")
            {
                reason = "stored value is not a JSON object";
            }
        }
        catch (JsonException e)
        {
            reason = $"stored value is not JSON: {e.Message}";
        }
#pragma warning disable CA1031 // One stored value, whatever is wrong with it, must not stop the others from being served.
        catch (Exception e)
#pragma warning restore CA1031
        {
            parsed = null;
            reason = $"stored value cannot be read: {e.Message} ({e.GetType().Name})";
        }
        if (errors.Count > 0)
        {
            // A stored object that fails validation (written by an older version, or by hand) is not served.
            parsed = null;
            reason = string.Join("; ", errors.Select(e => Relative(e, item.Key)));
        }
        var skipped = reason is null ? null : new SkippedObject(item.Key, reason);
        _parsed[item.Key] = (item.ModRevision, parsed, skipped);
        return (parsed, skipped);
    }

    /// <summary>An error of an object's validation, its path shown from inside the object (its key is said once).</summary>
    private static string Relative(ConfigError error, string key)
    {
        var path = error.Path.StartsWith(key, StringComparison.Ordinal) ? error.Path[key.Length..].TrimStart('.') : error.Path;
        return path.Length == 0 ? error.Message : $"{path}: {error.Message}";
    }

    public async ValueTask DisposeAsync()
    {
        _resolver.Expired -= OnDnsExpired;
        await _stop.CancelAsync().ConfigureAwait(false);
        if (_watching is not null)
        {
            await _watching.ConfigureAwait(false);
        }
        if (_building is not null)
        {
            await _building.ConfigureAwait(false);
        }
        _stop.Dispose();
        if (_ownsResolver)
        {
            _resolver.Dispose();
        }
        _buildGate.Dispose();
    }

    // One line per newly skipped object, this many at most per build; the rest are counted (all are in /v1/config).
    private const int MaxSkipLines = 20;

    // A store that failed its watch is asked again after this long: soon enough that writes go live within a
    // second or so once it recovers, rare enough that a store that keeps failing logs once a second, not in a spin.
    private static readonly TimeSpan WatchRetry = TimeSpan.FromSeconds(1);

    [LoggerMessage(EventId = 210, Level = LogLevel.Warning, Message = "Skipped {Key} at revision {Revision}: {Reason}; the rest of the configuration is served")]
    private static partial void Skipped(ILogger logger, string key, long revision, string reason);

    [LoggerMessage(EventId = 211, Level = LogLevel.Warning, Message = "Skipped {Count} more objects at revision {Revision}; GET /v1/config on the control API lists them all")]
    private static partial void SkippedMore(ILogger logger, int count, long revision);

    [LoggerMessage(EventId = 212, Level = LogLevel.Error, Message = "The configuration at revision {Revision} could not be built; the last applied one keeps serving")]
    private static partial void BuildFailed(ILogger logger, long revision, Exception exception);

    [LoggerMessage(EventId = 213, Level = LogLevel.Error, Message = "Watching the store failed after revision {Revision}; retrying in 1 s")]
    private static partial void WatchFailed(ILogger logger, long revision, Exception exception);

    [LoggerMessage(EventId = 214, Level = LogLevel.Error, Message = "Looking up upstream host names failed; this build goes on without their addresses")]
    private static partial void ResolveFailed(ILogger logger, Exception exception);
}
