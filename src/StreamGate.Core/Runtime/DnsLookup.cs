using System.Globalization;
using System.Net;
using DnsClient;
using DnsClient.Protocol;
using StreamGate.Config;

namespace StreamGate.Runtime;

/// <summary>
/// One name's DNS lookup with the answer's TTL, which getaddrinfo does not give: an A query, then AAAA when there
/// is no A record (APISIX's resolver asks in that order and stops at the first type that answers), against the
/// configured nameservers or those of resolv.conf, with resolv.conf's search domains and ndots as glibc applies
/// them. The TTL is the smallest of the answer's records (a CNAME chain's included).
/// </summary>
internal sealed class DnsLookup
{
    private static readonly QueryType[] s_types = [QueryType.A, QueryType.AAAA];

    private readonly DnsOptions _options;
    private readonly Lock _lock = new();
    private (long Ticks, long Length)? _confStamp;
    private ResolvConf _conf = ResolvConf.Empty;
    private LookupClient? _client;
    private IReadOnlyList<IPEndPoint>? _clientServers;

    public DnsLookup(DnsOptions options) => _options = options;

    /// <summary>Looks the name up; never throws but when cancelled (the caller's timeout).</summary>
    public async Task<DnsAnswer> LookupAsync(string name, CancellationToken cancellation)
    {
        var (client, conf) = Client();
        string? error = null;
        foreach (var candidate in conf.Candidates(name))
        {
            foreach (var type in s_types)
            {
                IDnsQueryResponse response;
                try
                {
                    response = await client.QueryAsync(candidate, type, QueryClass.IN, cancellation).ConfigureAwait(false);
                }
                catch (DnsResponseException e)
                {
                    error = e.Message;
                    break;
                }
                if (response.HasError)
                {
                    // NXDOMAIN holds for every type: the next candidate, not AAAA.
                    error = response.Header.ResponseCode == DnsHeaderResponseCode.NotExistentDomain
                        ? "no such name (NXDOMAIN)"
                        : $"{response.ErrorMessage} from {response.NameServer}";
                    break;
                }
                var addresses = new List<IPAddress>();
                var ttl = int.MaxValue;
                foreach (var record in response.Answers)
                {
                    switch (record)
                    {
                        case ARecord a:
                            addresses.Add(a.Address);
                            break;
                        case AaaaRecord aaaa:
                            addresses.Add(aaaa.Address);
                            break;
                    }
                    ttl = Math.Min(ttl, Math.Max(record.InitialTimeToLive, 0));
                }
                if (addresses.Count > 0)
                {
                    return new DnsAnswer(addresses[0], TimeSpan.FromSeconds(ttl), null, [.. addresses]);
                }
                error ??= "no A or AAAA records";
            }
        }
        return new DnsAnswer(null, null, error ?? "no A or AAAA records");
    }

    /// <summary>The client for the current nameservers (resolv.conf is looked at again when it changes).</summary>
    private (LookupClient Client, ResolvConf Conf) Client()
    {
        lock (_lock)
        {
            (long, long)? stamp = null;
            try
            {
                var info = new FileInfo(_options.ResolvConfPath);
                stamp = info.Exists ? (info.LastWriteTimeUtc.Ticks, info.Length) : null;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
            }
            if (_client is null || stamp != _confStamp)
            {
                _confStamp = stamp;
                try
                {
                    _conf = stamp is null ? ResolvConf.Empty : ResolvConf.Parse(File.ReadAllText(_options.ResolvConfPath));
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    _conf = ResolvConf.Empty;
                }
                var servers = _options.Servers.Count > 0 ? _options.Servers : _conf.Servers;
                if (_client is null || _clientServers is null || !servers.SequenceEqual(_clientServers))
                {
                    _clientServers = servers;
                    _client = new LookupClient(new LookupClientOptions([.. servers])
                    {
                        // Answers are kept by HostResolver, by TTL within the configured bounds.
                        UseCache = false,
                        Timeout = _options.Timeout,
                        // The caller bounds the whole lookup by resolver_timeout; retries would only queue behind it.
                        Retries = 0,
                        ThrowDnsErrors = false,
                        UseTcpFallback = true,
                        ContinueOnDnsError = true,
                        ContinueOnEmptyResponse = false,
                    });
                }
            }
            return (_client, _conf);
        }
    }
}

/// <summary>One lookup's outcome: an address and how long it may be kept (null: the lookup said nothing), or why there is none.</summary>
/// <summary>A lookup's outcome: the address to use (the first), its TTL, or why there is none; <c>All</c> every address answered.</summary>
internal readonly record struct DnsAnswer(IPAddress? Address, TimeSpan? Ttl, string? Error, IPAddress[]? All = null)
{
    /// <summary>Whether the answer still lists <paramref name="address"/> (a server rotating its records answers the same set in another order).</summary>
    public bool Lists(IPAddress address) => All is null ? address.Equals(Address) : Array.IndexOf(All, address) >= 0;
}

/// <summary>What the resolver takes from resolv.conf: nameserver lines, search (or domain) and options ndots, as glibc reads them.</summary>
internal sealed record ResolvConf(IReadOnlyList<IPEndPoint> Servers, IReadOnlyList<string> Search, int Ndots)
{
    /// <summary>No file: glibc asks the local nameserver, with no search domains.</summary>
    public static readonly ResolvConf Empty = new([new IPEndPoint(IPAddress.Loopback, 53)], [], 1);

    public static ResolvConf Parse(string text)
    {
        var servers = new List<IPEndPoint>();
        IReadOnlyList<string> search = [];
        var ndots = 1;
        foreach (var raw in text.Split('\n'))
        {
            var fields = raw.Split([' ', '\t', '\r'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 2 || fields[0].StartsWith('#') || fields[0].StartsWith(';'))
            {
                continue;
            }
            switch (fields[0])
            {
                case "nameserver" when IPAddress.TryParse(fields[1], out var address):
                    servers.Add(new IPEndPoint(address, 53));
                    break;
                case "search":
                    // The last search or domain line wins, as in glibc.
                    search = [.. fields[1..].Select(d => d.TrimEnd('.')).Where(d => d.Length > 0)];
                    break;
                case "domain":
                    search = [fields[1].TrimEnd('.')];
                    break;
                case "options":
                    foreach (var option in fields[1..])
                    {
                        if (option.StartsWith("ndots:", StringComparison.Ordinal) &&
                            int.TryParse(option.AsSpan(6), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
                        {
                            ndots = Math.Min(n, 15);
                        }
                    }
                    break;
            }
        }
        return new ResolvConf(servers.Count > 0 ? servers : Empty.Servers, search, ndots);
    }

    /// <summary>
    /// The names asked, in order: a name ending in a dot as it is; one with at least ndots dots as it is, then with
    /// each search domain; a shorter one with each search domain first (redis.default.svc.cluster.local for redis).
    /// </summary>
    public IEnumerable<string> Candidates(string name)
    {
        if (name.EndsWith('.') || Search.Count == 0)
        {
            yield return name;
            yield break;
        }
        var asIs = name.Count(c => c == '.') >= Ndots;
        if (asIs)
        {
            yield return name;
        }
        foreach (var domain in Search)
        {
            yield return $"{name}.{domain}";
        }
        if (!asIs)
        {
            yield return name;
        }
    }
}
