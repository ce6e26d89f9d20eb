using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using StreamGate.Config;

namespace StreamGate.Runtime;

/// <summary>
/// Looks up the host names of a configuration's upstream nodes before its snapshot is built: every name at
/// once, asynchronously, each bounded by a timeout, so the build itself never waits on DNS and ten slow names
/// cost one timeout, not ten. IP literals are not looked up. A name that does not resolve maps to null (its
/// nodes get no address and connections go to the next node) and is logged once per call, with the reason.
/// </summary>
/// <remarks>
/// Each build asks again; answers are kept only <see cref="CacheFor"/>, to spare the DNS a burst of rebuilds.
/// Nothing re-resolves between builds: a changed record reaches the gateway with the next configuration change.
/// TTL-driven refresh (the DNS nodes of the upstream issue) plugs in here: a lookup that returns its record's TTL
/// would keep the answer that long instead of <see cref="CacheFor"/>, and on expiry raise the owning source's
/// rebuild signal (StoreConfigSource's change channel, the watcher's poll), so a refresh is just another build.
/// </remarks>
internal sealed partial class HostResolver
{
    /// <summary>
    /// glibc's own per-query timeout (resolv.conf <c>options timeout</c>, 5 s by default): a name the first
    /// server has not answered by then counts as unresolved for this build, and the next build asks again.
    /// </summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long an answer (or a failure) serves further builds. Under a stream of admin writes the store rebuilds
    /// every few milliseconds; 5 s turns that into one query per name per 5 s. It is the shortest TTL common
    /// service DNS hands out (CoreDNS's kubernetes plugin answers with 5 s unless told otherwise), so an answer
    /// is never kept longer than such a DNS would let any client keep it.
    /// </summary>
    public static readonly TimeSpan CacheFor = TimeSpan.FromSeconds(5);

    private static readonly IReadOnlyDictionary<string, IPAddress?> s_none = new Dictionary<string, IPAddress?>();

    private readonly ILogger _logger;
    private readonly Func<string, CancellationToken, Task<IPAddress[]>> _lookup;
    private readonly TimeProvider _time;
    private readonly TimeSpan _timeout;
    private readonly Lock _lock = new();
    // A lookup in flight is shared too: a build that starts while another waits on a name joins that lookup
    // instead of queuing a second getaddrinfo behind it.
    private readonly Dictionary<string, Lookup> _lookups = new(StringComparer.OrdinalIgnoreCase);

    /// <param name="logger">Where unresolved names are reported.</param>
    /// <param name="lookup">The DNS lookup; <see cref="Dns.GetHostAddressesAsync(string, CancellationToken)"/> unless a test supplies one.</param>
    /// <param name="time">The clock of the answer cache and the timeout.</param>
    /// <param name="timeout">How long one name may take; <see cref="DefaultTimeout"/> unless a test supplies one.</param>
    public HostResolver(ILogger logger, Func<string, CancellationToken, Task<IPAddress[]>>? lookup = null, TimeProvider? time = null, TimeSpan? timeout = null)
    {
        _logger = logger;
        _lookup = lookup ?? Dns.GetHostAddressesAsync;
        _time = time ?? TimeProvider.System;
        _timeout = timeout ?? DefaultTimeout;
    }

    /// <summary>
    /// The address of every host name the set's upstream nodes use (services' and routes' inline upstreams too);
    /// null for a name that did not resolve. IP literals are not in the result.
    /// </summary>
    public async Task<IReadOnlyDictionary<string, IPAddress?>> ResolveAsync(ConfigSet config, CancellationToken cancellation = default)
    {
        var names = HostNames(config);
        if (names.Count == 0)
        {
            return s_none;
        }
        var lookups = new Lookup[names.Count];
        List<(string Name, Lookup Lookup)>? started = null;
        lock (_lock)
        {
            var now = _time.GetTimestamp();
            // Names no longer in any configuration go once their answer is stale.
            foreach (var (name, lookup) in _lookups)
            {
                if (IsStale(lookup, now))
                {
                    _lookups.Remove(name);
                }
            }
            for (var i = 0; i < names.Count; i++)
            {
                if (!_lookups.TryGetValue(names[i], out var lookup))
                {
                    lookup = new Lookup();
                    _lookups[names[i]] = lookup;
                    (started ??= []).Add((names[i], lookup));
                }
                lookups[i] = lookup;
            }
        }
        // Started outside the lock: a lookup may do some of its work before its first await.
        if (started is not null)
        {
            foreach (var (name, lookup) in started)
            {
                _ = CompleteAsync(name, lookup);
            }
        }
        var resolved = new Dictionary<string, IPAddress?>(names.Count, StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < names.Count; i++)
        {
            // Every lookup is already running; awaiting them in turn costs the slowest, not the sum.
            var answer = await lookups[i].Answer.Task.WaitAsync(cancellation).ConfigureAwait(false);
            resolved[names[i]] = answer.Address;
            if (answer.Error is not null)
            {
                Unresolved(_logger, names[i], answer.Error);
            }
        }
        return resolved;
    }

    private bool IsStale(Lookup lookup, long now) =>
        lookup.Answer.Task.IsCompleted && _time.GetElapsedTime(Volatile.Read(ref lookup.AnsweredAt), now) >= CacheFor;

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

    private async Task CompleteAsync(string name, Lookup lookup)
    {
        Answer answer;
        try
        {
            using var timeout = new CancellationTokenSource(_timeout, _time);
            // The wait is bounded apart from the token: glibc cannot cancel a getaddrinfo already under way, so
            // the token alone may not end it. Such a lookup finishes in the background, shared, not repeated.
            var addresses = await _lookup(name, timeout.Token).WaitAsync(_timeout, _time).ConfigureAwait(false);
            var address = Array.Find(addresses, a => a.AddressFamily == AddressFamily.InterNetwork) ?? (addresses.Length > 0 ? addresses[0] : null);
            answer = address is null ? new Answer(null, "no addresses") : new Answer(address, null);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            answer = new Answer(null, $"no answer within {_timeout.TotalSeconds:0.###} s");
        }
#pragma warning disable CA1031 // Whatever a lookup throws, the name just has no address: a build must not fail or hang on DNS.
        catch (Exception e)
#pragma warning restore CA1031
        {
            answer = new Answer(null, e.Message);
        }
        Volatile.Write(ref lookup.AnsweredAt, _time.GetTimestamp());
        lookup.Answer.SetResult(answer);
    }

    private sealed class Lookup
    {
        // Continuations run off the thread completing the lookup, which may be the DNS's own callback thread.
        public readonly TaskCompletionSource<Answer> Answer = new(TaskCreationOptions.RunContinuationsAsynchronously);
        public long AnsweredAt;
    }

    private readonly record struct Answer(IPAddress? Address, string? Error);

    [LoggerMessage(EventId = 220, Level = LogLevel.Warning, Message = "Upstream node host {Host} did not resolve ({Reason}); its nodes are skipped until a configuration change resolves it")]
    private static partial void Unresolved(ILogger logger, string host, string reason);
}
