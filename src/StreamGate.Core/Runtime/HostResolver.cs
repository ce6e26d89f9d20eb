using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using StreamGate.Config;

namespace StreamGate.Runtime;

/// <summary>
/// Looks up the host names of a configuration's upstream nodes before its snapshot is built: every name at
/// once, asynchronously, each bounded by a timeout, so the build itself never waits on DNS and ten slow names
/// cost one timeout, not ten. IP literals are not looked up. /etc/hosts answers first; then DNS (A, then AAAA),
/// whose answers are kept for their TTL within [dns_ttl_min, dns_ttl_max], or for dns_resolver_valid.
/// </summary>
/// <remarks>
/// <para>
/// Expiry: when an answer in use (one of the names of the last <see cref="ResolveAsync"/>) expires, or /etc/hosts
/// changes what it says of one, <see cref="Expired"/> is raised, once, on a timer thread (never an event loop);
/// the owner rebuilds, which asks again through <see cref="ResolveAsync"/> and so arms the next expiry. Answers
/// due within <see cref="BatchWindow"/> of the first are renewed by the same build, so names with one TTL cost
/// one rebuild.
/// </para>
/// <para>
/// Failures: a name whose refresh fails keeps its last good address (stale is better than no node: a DNS
/// outage must not empty every upstream) and is asked again after 5 s, doubling to 60 s while it keeps failing; a
/// name that never resolved maps to null and <see cref="LastError"/> says why. A failure streak is logged once,
/// at its start, and its end once.
/// </para>
/// </remarks>
internal sealed partial class HostResolver : IDisposable
{
    /// <summary>resolver_timeout's default (APISIX's), and glibc's per-query timeout: the default bound of one name's lookup.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long an answer that came with no TTL (a supplied lookup, as getaddrinfo's) is kept, and the first retry
    /// of a failed name: the shortest TTL common service DNS hands out (CoreDNS's kubernetes plugin answers with
    /// 5 s unless told otherwise), so under a stream of admin writes a name costs one query per 5 s.
    /// </summary>
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(5);

    /// <summary>The longest wait between retries of a name that keeps failing.</summary>
    public static readonly TimeSpan MaxRetry = TimeSpan.FromSeconds(60);

    /// <summary>Answers expiring this soon after the one that is due are renewed with it (see the remarks).</summary>
    public static readonly TimeSpan BatchWindow = TimeSpan.FromMilliseconds(250);

    /// <summary>While a name in use comes from /etc/hosts (or could), the file is looked at this often for changes.</summary>
    public static readonly TimeSpan HostsCheck = TimeSpan.FromSeconds(5);

    private static readonly IReadOnlyDictionary<string, IPAddress?> s_none = new Dictionary<string, IPAddress?>();

    private readonly ILogger _logger;
    private readonly Func<string, CancellationToken, Task<DnsAnswer>> _lookup;
    private readonly DnsOptions _options;
    private readonly TimeProvider _time;
    private readonly HostsFile? _hosts;
    private readonly ITimer _timer;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Entry> _entries = new(StringComparer.OrdinalIgnoreCase);
    private string[] _inUse = [];
    private bool _armed;
    private bool _disposed;

    /// <summary>A resolver that asks DNS with the gateway's settings (config.yaml's apisix.dns_resolver and the keys beside it).</summary>
    public HostResolver(ILogger logger, DnsOptions options, TimeProvider? time = null)
        : this(logger, options, new DnsLookup(options).LookupAsync, time, new HostsFile(options.HostsPath))
    {
    }

    /// <param name="logger">Where unresolved names are reported.</param>
    /// <param name="lookup">
    /// A lookup without TTLs (its answers are kept <see cref="CacheFor"/>, and no hosts file is read), for tests;
    /// unless one is supplied, DNS with <see cref="DnsOptions.Default"/> and /etc/hosts.
    /// </param>
    /// <param name="time">The clock of the answers and the timeout.</param>
    /// <param name="timeout">How long one name may take; <see cref="DefaultTimeout"/> unless a test supplies one.</param>
    public HostResolver(ILogger logger, Func<string, CancellationToken, Task<IPAddress[]>>? lookup = null, TimeProvider? time = null, TimeSpan? timeout = null)
        : this(
            logger,
            DnsOptions.Default with { Timeout = timeout ?? DefaultTimeout },
            lookup is null ? new DnsLookup(DnsOptions.Default with { Timeout = timeout ?? DefaultTimeout }).LookupAsync : WithoutTtl(lookup),
            time,
            lookup is null ? new HostsFile(DnsOptions.Default.HostsPath) : null)
    {
    }

    /// <summary>Everything supplied: a lookup that gives TTLs, the settings, and the hosts file (null: none).</summary>
    internal HostResolver(ILogger logger, DnsOptions options, Func<string, CancellationToken, Task<DnsAnswer>> lookup, TimeProvider? time, HostsFile? hosts)
    {
        _logger = logger;
        _options = options;
        _lookup = lookup;
        _time = time ?? TimeProvider.System;
        _hosts = hosts;
        _timer = _time.CreateTimer(static state => ((HostResolver)state!).CheckExpiry(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>
    /// Raised when an answer in use has expired (or /etc/hosts changed one): rebuild, which resolves again. Raised
    /// on a timer thread, once per batch of expiries, and not again before the next <see cref="ResolveAsync"/>.
    /// </summary>
    public event Action? Expired;

    /// <summary>
    /// The address of every host name the set's upstream nodes use (services' and routes' inline upstreams too);
    /// null for a name that has never resolved (<see cref="LastError"/> says why). IP literals are not in the
    /// result. These names become the ones in use, whose expiry raises <see cref="Expired"/>.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, IPAddress?>> ResolveAsync(ConfigSet config, CancellationToken cancellation = default)
    {
        var names = HostNames(config);
        var tasks = new Task[names.Count];
        var entries = new Entry[names.Count];
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            _hosts?.Refresh();
            var used = new HashSet<string>(names, StringComparer.OrdinalIgnoreCase);
            foreach (var (name, entry) in _entries)
            {
                // Names no longer in any configuration go once nothing waits on them.
                if (!used.Contains(name) && entry.Pending is null && Due(entry, now))
                {
                    _entries.Remove(name);
                }
            }
            for (var i = 0; i < names.Count; i++)
            {
                if (!_entries.TryGetValue(names[i], out var entry))
                {
                    entry = new Entry();
                    _entries[names[i]] = entry;
                }
                entries[i] = entry;
                if (_hosts?.Lookup(names[i]) is { } listed)
                {
                    entry.FromHosts(listed, now + Ticks(_options.TtlMax));
                    tasks[i] = Task.CompletedTask;
                    continue;
                }
                if (entry.Pending is null && (entry.FromHostsFile || Due(entry, now)))
                {
                    entry.FromHostsFile = false;
                    entry.Pending = CompleteAsync(names[i], entry);
                }
                tasks[i] = entry.Pending ?? Task.CompletedTask;
            }
            _inUse = [.. names];
        }
        if (names.Count == 0)
        {
            Arm();
            return s_none;
        }
        // Every lookup is already running; waiting for all costs the slowest, not the sum.
        await Task.WhenAll(tasks).WaitAsync(cancellation).ConfigureAwait(false);
        var resolved = new Dictionary<string, IPAddress?>(names.Count, StringComparer.OrdinalIgnoreCase);
        lock (_lock)
        {
            for (var i = 0; i < names.Count; i++)
            {
                resolved[names[i]] = entries[i].Address;
            }
        }
        Arm();
        return resolved;
    }

    /// <summary>Why the name has no address now, or why its last refresh failed (it then keeps its last good one); null when its last lookup succeeded.</summary>
    public string? LastError(string name)
    {
        lock (_lock)
        {
            return _entries.TryGetValue(name, out var entry) ? entry.Error : null;
        }
    }

    /// <summary>How long until the first answer in use expires (null: none in use), as of now.</summary>
    public TimeSpan? NextExpiry
    {
        get
        {
            lock (_lock)
            {
                return Earliest() is { } at ? TimeSpan.FromTicks(Math.Max(0, (at - _time.GetTimestamp()) * TimeSpan.TicksPerSecond / _time.TimestampFrequency)) : null;
            }
        }
    }

    /// <summary>
    /// What the expiry timer runs: raises <see cref="Expired"/> when an answer in use is due or /etc/hosts changed
    /// one, else waits again. Internal so tests with their own clock can run it.
    /// </summary>
    internal bool CheckExpiry()
    {
        lock (_lock)
        {
            if (!_armed || _disposed)
            {
                return false;
            }
            var now = _time.GetTimestamp();
            var due = false;
            if (_hosts is not null && _hosts.Refresh())
            {
                // The file changed: due if it now says something else of a name in use.
                foreach (var name in _inUse)
                {
                    var listed = _hosts.Lookup(name);
                    if (_entries.TryGetValue(name, out var entry) && (entry.FromHostsFile ? !Equals(listed, entry.Address) : listed is not null))
                    {
                        due = true;
                        break;
                    }
                }
            }
            if (!due && Earliest() is { } earliest && earliest <= now)
            {
                due = true;
            }
            if (!due)
            {
                ArmLocked(now);
                return false;
            }
            _armed = false;
        }
        try
        {
            Expired?.Invoke();
        }
#pragma warning disable CA1031 // A timer thread must not die of a subscriber's fault; the next ResolveAsync arms again.
        catch (Exception e)
#pragma warning restore CA1031
        {
            ExpiredHandlerFailed(_logger, e);
        }
        return true;
    }

    private void Arm()
    {
        lock (_lock)
        {
            ArmLocked(_time.GetTimestamp());
        }
    }

    private void ArmLocked(long now)
    {
        if (_disposed)
        {
            return;
        }
        var earliest = Earliest();
        if (_hosts is not null && _inUse.Length > 0)
        {
            // Any name in use could be listed in the file tomorrow; looking costs one stat.
            var check = now + Ticks(HostsCheck);
            earliest = earliest is { } e ? Math.Min(e, check) : check;
        }
        if (earliest is not { } at)
        {
            _armed = false;
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }
        _armed = true;
        var wait = TimeSpan.FromTicks(Math.Max(0, (at - now) * TimeSpan.TicksPerSecond / _time.TimestampFrequency));
        // A timer's due time is at most about 49 days; TTLs are far below that.
        _timer.Change(wait + TimeSpan.FromMilliseconds(1), Timeout.InfiniteTimeSpan);
    }

    /// <summary>The first expiry among the names in use whose lookup is not under way.</summary>
    private long? Earliest()
    {
        long? earliest = null;
        foreach (var name in _inUse)
        {
            if (_entries.TryGetValue(name, out var entry) && entry.Pending is null && entry.ExpiresAt is { } at)
            {
                earliest = earliest is { } e ? Math.Min(e, at) : at;
            }
        }
        return earliest;
    }

    private bool Due(Entry entry, long now) => entry.ExpiresAt is not { } at || at - now <= Ticks(BatchWindow);

    private long Ticks(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);

    private static List<string> HostNames(ConfigSet config)
    {
        var names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var upstream in config.Upstreams.Values)
        {
            AddNames(upstream, names);
        }
        foreach (var service in config.Services.Values)
        {
            AddNames(service.Upstream, names);
        }
        foreach (var route in config.Routes)
        {
            AddNames(route.Upstream, names);
        }
        return [.. names];
    }

    private static void AddNames(UpstreamConfig? upstream, HashSet<string> names)
    {
        if (upstream is null)
        {
            return;
        }
        foreach (var node in upstream.Nodes)
        {
            if (!IPAddress.TryParse(node.Host, out _))
            {
                names.Add(node.Host);
            }
        }
    }

    private async Task CompleteAsync(string name, Entry entry)
    {
        // Off the caller's stack: the lookup may do some work before its first await, and the lock is held.
        await Task.Yield();
        DnsAnswer answer;
        try
        {
            using var timeout = new CancellationTokenSource(_options.Timeout, _time);
            // The wait is bounded apart from the token: a lookup that ignores its token (getaddrinfo cannot be
            // cancelled once under way) finishes in the background, shared, not repeated.
            answer = await _lookup(name, timeout.Token).WaitAsync(_options.Timeout, _time).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            answer = new DnsAnswer(null, null, $"no answer within {_options.Timeout.TotalSeconds:0.###} s");
        }
#pragma warning disable CA1031 // Whatever a lookup throws, the name just has no (new) address: a build must not fail or hang on DNS.
        catch (Exception e)
#pragma warning restore CA1031
        {
            answer = new DnsAnswer(null, null, e.Message);
        }
        IPAddress? kept;
        int streak;
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            entry.Pending = null;
            if (entry.FromHostsFile)
            {
                // The hosts file listed the name while DNS was asked: the file wins.
                return;
            }
            if (answer.Address is { } address)
            {
                streak = entry.Failures;
                // A DNS that rotates its records (CoreDNS's loadbalance) answers the same set in a new order at every
                // TTL: keeping the address while it is listed spares a rebuild and, with drain_on_change, a drain.
                entry.Address = entry.Address is { } current && answer.Lists(current) ? current : address;
                entry.Error = null;
                entry.Failures = 0;
                entry.ExpiresAt = now + Ticks(_options.Keep(answer.Ttl ?? CacheFor));
                kept = entry.Address;
            }
            else
            {
                entry.Failures++;
                streak = entry.Failures;
                entry.Error = answer.Error ?? "no addresses";
                var retry = TimeSpan.FromTicks(Math.Min(MaxRetry.Ticks, CacheFor.Ticks << Math.Min(streak - 1, 8)));
                entry.ExpiresAt = now + Ticks(retry < _options.TtlMin ? _options.TtlMin : retry);
                kept = entry.Address;
            }
        }
        if (answer.Address is not null)
        {
            if (streak > 0)
            {
                Recovered(_logger, name, answer.Address, streak);
            }
        }
        else if (streak == 1)
        {
            if (kept is null)
            {
                Unresolved(_logger, name, answer.Error ?? "no addresses");
            }
            else
            {
                RefreshFailed(_logger, name, answer.Error ?? "no addresses", kept);
            }
        }
    }

    private static Func<string, CancellationToken, Task<DnsAnswer>> WithoutTtl(Func<string, CancellationToken, Task<IPAddress[]>> lookup) =>
        async (name, cancellation) =>
        {
            var addresses = await lookup(name, cancellation).ConfigureAwait(false);
            var address = Array.Find(addresses, a => a.AddressFamily == AddressFamily.InterNetwork) ?? (addresses.Length > 0 ? addresses[0] : null);
            return address is null ? new DnsAnswer(null, null, "no addresses") : new DnsAnswer(address, null, null);
        };

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _armed = false;
        }
        _timer.Dispose();
    }

    /// <summary>One name: its last good address, when it expires, the lookup under way, and its failure streak.</summary>
    private sealed class Entry
    {
        public IPAddress? Address;
        public long? ExpiresAt;
        public Task? Pending;
        public string? Error;
        public int Failures;
        public bool FromHostsFile;

        public void FromHosts(IPAddress address, long expiresAt)
        {
            Address = address;
            ExpiresAt = expiresAt;
            Error = null;
            Failures = 0;
            FromHostsFile = true;
        }
    }

    [LoggerMessage(EventId = 220, Level = LogLevel.Warning, Message = "Upstream node host {Host} did not resolve ({Reason}); its nodes get no address until it does (asked again from 5 s to 60 s apart)")]
    private static partial void Unresolved(ILogger logger, string host, string reason);

    [LoggerMessage(EventId = 221, Level = LogLevel.Warning, Message = "Refreshing upstream node host {Host} failed ({Reason}); its last address {Address} keeps serving until a refresh succeeds")]
    private static partial void RefreshFailed(ILogger logger, string host, string reason, IPAddress address);

    [LoggerMessage(EventId = 222, Level = LogLevel.Information, Message = "Upstream node host {Host} resolves again, to {Address}, after {Failures} failed lookups")]
    private static partial void Recovered(ILogger logger, string host, IPAddress address, int failures);

    [LoggerMessage(EventId = 223, Level = LogLevel.Error, Message = "A handler of the DNS expiry event failed; the configuration is rebuilt at the next change")]
    private static partial void ExpiredHandlerFailed(ILogger logger, Exception exception);
}
