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
    private readonly Dictionary<string, (long ModRevision, object? Parsed)> _parsed = new(StringComparer.Ordinal);
    // "Something changed since the last build": one pending signal at most, extra ones dropped.
    private readonly Channel<bool> _changed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _itemsLock = new();
    // One build at a time, in order (a full reload after compaction can race the build loop); a semaphore, not a
    // lock, because a build awaits its host names.
    private readonly SemaphoreSlim _buildGate = new(1, 1);
    private readonly HostResolver _resolver;
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
        _resolver = resolver ?? new HostResolver(logger);
        _builder = new SnapshotBuilder(_resolver);
    }

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
        while (!cancellation.IsCancellationRequested)
        {
            try
            {
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
            catch (OperationCanceledException)
            {
                return;
            }
            catch (StoreCompactedException)
            {
                // Fell too far behind: start again from a full read.
                await LoadInitialAsync(cancellation).ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return;
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

    /// <summary>Builds and applies a snapshot of the items read so far; returns the CPU-bound part of the time it took.</summary>
    private async Task<TimeSpan> RebuildAsync(CancellationToken cancellation)
    {
        await _buildGate.WaitAsync(cancellation).ConfigureAwait(false);
        try
        {
            var started = Stopwatch.GetTimestamp();
            var errors = new List<ConfigError>();
            var (config, revision) = Collect(errors);
            var collecting = Stopwatch.GetElapsedTime(started);
            var hosts = await _resolver.ResolveAsync(config, cancellation).ConfigureAwait(false);
            started = Stopwatch.GetTimestamp();
            var snapshot = _builder.Build(config, revision, errors, hosts);
            _snapshots.Apply(snapshot);
            if (errors.Count > 0)
            {
                Skipped(_logger, revision, string.Join(Environment.NewLine, errors));
            }
            return collecting + Stopwatch.GetElapsedTime(started);
        }
        finally
        {
            _buildGate.Release();
        }
    }

    /// <summary>Parses what changed and gathers everything into one set, in route creation order.</summary>
    private (ConfigSet Config, long Revision) Collect(List<ConfigError> errors)
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
            switch (Parse(item, errors))
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

    private object? Parse(StoredValue item, List<ConfigError> errors)
    {
        if (_parsed.TryGetValue(item.Key, out var cached) && cached.ModRevision == item.ModRevision)
        {
            return cached.Parsed;
        }
        var kind = item.Key.AsSpan(_prefix.Length);
        var slash = kind.IndexOf('/');
        var resource = slash < 0 ? kind.ToString() : kind[..slash].ToString();
        object? parsed = null;
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
        }
        catch (JsonException e)
        {
            errors.Add(new ConfigError(item.Key, $"stored value is not JSON: {e.Message}"));
        }
        _parsed[item.Key] = (item.ModRevision, parsed);
        return parsed;
    }

    public async ValueTask DisposeAsync()
    {
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
        _buildGate.Dispose();
    }

    [LoggerMessage(EventId = 210, Level = LogLevel.Warning, Message = "Configuration at revision {Revision} has objects that cannot be served; they are skipped:\n{Errors}")]
    private static partial void Skipped(ILogger logger, long revision, string errors);
}
