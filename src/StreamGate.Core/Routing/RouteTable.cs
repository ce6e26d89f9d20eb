using StreamGate.Upstreams;

namespace StreamGate.Routing;

/// <summary>
/// Stream routes in their configured order; the first whose present fields all hold wins (APISIX's ip_port
/// router). So that thousands of routes cost a connection a few hash lookups instead of a scan, each route is
/// filed under one key: its remote_addr network (one table per prefix length), else its server_addr network,
/// else its server_port, else in the list of routes with none of them. A connection looks up its candidates in each table; every candidate
/// list is in configuration order, so the answer is the smallest index among each list's first full match.
/// </summary>
internal sealed class RouteTable
{
    private const int End = -1;

    private readonly StreamRoute[] _routes;

    // Candidate lists as chains through _next: a table maps a key to the index of its first route, and
    // _next[i] is the next route (in configuration order) filed under the same key. Building this takes one
    // pass and no per-key allocation, which keeps a rebuild of 10,000 routes to a few milliseconds.
    private readonly int[] _next;
    private readonly AddressIndex[] _byRemote;
    private readonly AddressIndex[] _byServer;
    private readonly Dictionary<int, int> _byPort;
    private readonly int _restHead;
    private readonly Dictionary<string, StreamRoute> _byId;

    public RouteTable(IReadOnlyList<StreamRoute> routes)
    {
        _routes = [.. routes];
        _next = new int[_routes.Length];
        _byId = new Dictionary<string, StreamRoute>(_routes.Length, StringComparer.Ordinal);
        _byPort = [];
        var remoteByLength = new Dictionary<int, AddressIndex>();
        var serverByLength = new Dictionary<int, AddressIndex>();
        var portTails = new Dictionary<int, int>();
        var restTail = End;
        _restHead = End;
        for (var i = 0; i < _routes.Length; i++)
        {
            var route = _routes[i];
            _next[i] = End;
            _byId.TryAdd(route.Id, route);
            UsesServerAddress |= route.ServerAddress is not null || route.Upstream.KeysOnServerAddress;
            if (route.RemoteAddress is { } remote)
            {
                File(remoteByLength, remote, i);
            }
            else if (route.ServerAddress is { } server)
            {
                File(serverByLength, server, i);
            }
            else if (route.ServerPort != 0)
            {
                Append(_byPort, portTails, route.ServerPort, i);
            }
            else
            {
                if (restTail == End)
                {
                    _restHead = i;
                }
                else
                {
                    _next[restTail] = i;
                }
                restTail = i;
            }
        }
        // Longest prefixes first: the most specific tables are the likeliest to hold an early match.
        _byRemote = ByLongestPrefix(remoteByLength);
        _byServer = ByLongestPrefix(serverByLength);
    }

    private void File(Dictionary<int, AddressIndex> indexes, IpPrefix prefix, int route)
    {
        if (!indexes.TryGetValue(prefix.Length, out var index))
        {
            indexes[prefix.Length] = index = new AddressIndex(prefix.Length);
        }
        Append(index.Heads, index.Tails, prefix.Network, route);
    }

    private static AddressIndex[] ByLongestPrefix(Dictionary<int, AddressIndex> indexes)
    {
        AddressIndex[] sorted = [.. indexes.Values];
        Array.Sort(sorted, static (a, b) => b.Length.CompareTo(a.Length));
        return sorted;
    }

    public static RouteTable Empty { get; } = new([]);

    public IReadOnlyList<StreamRoute> Routes => _routes;

    /// <summary>
    /// Whether any route matches on server_addr or sends to a chash upstream keyed on it: only then does a wildcard
    /// listener ask getsockname per connection.
    /// </summary>
    public bool UsesServerAddress { get; }

    public StreamRoute? FindById(string id) => _byId.GetValueOrDefault(id);

    public StreamRoute? Match(in ConnectionAddresses connection)
    {
        var best = Lookup(_byRemote, connection.RemoteAddress, connection, int.MaxValue);
        best = Lookup(_byServer, connection.ServerAddress, connection, best);
        if (_byPort.TryGetValue(connection.ServerPort, out var portHead))
        {
            best = FirstMatch(portHead, connection, best);
        }
        best = FirstMatch(_restHead, connection, best);
        return best == int.MaxValue ? null : _routes[best];
    }

    private int Lookup(AddressIndex[] indexes, IpAddr address, in ConnectionAddresses connection, int best)
    {
        foreach (var index in indexes)
        {
            if (index.Heads.TryGetValue(IpPrefix.MaskTo(address, index.Length), out var head))
            {
                best = FirstMatch(head, connection, best);
            }
        }
        return best;
    }

    /// <summary>The first route of the chain from <paramref name="head"/> that matches, if it comes before <paramref name="bound"/>.</summary>
    private int FirstMatch(int head, in ConnectionAddresses connection, int bound)
    {
        for (var index = head; index != End && index < bound; index = _next[index])
        {
            if (_routes[index].Matches(connection))
            {
                return index;
            }
        }
        return bound;
    }

    private void Append<TKey>(Dictionary<TKey, int> heads, Dictionary<TKey, int> tails, TKey key, int index)
        where TKey : notnull
    {
        if (tails.TryGetValue(key, out var tail))
        {
            _next[tail] = index;
        }
        else
        {
            heads[key] = index;
        }
        tails[key] = index;
    }

    private sealed class AddressIndex(int length)
    {
        public int Length { get; } = length;

        public Dictionary<IpAddr, int> Heads { get; } = [];

        public Dictionary<IpAddr, int> Tails { get; } = [];
    }
}
