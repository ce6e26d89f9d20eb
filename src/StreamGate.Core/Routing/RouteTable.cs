using StreamGate.Upstreams;

namespace StreamGate.Routing;

/// <summary>
/// Stream routes in their configured order; the first whose present fields all hold wins (APISIX's ip_port
/// router). So that thousands of routes cost a connection a few hash lookups instead of a scan, each route is
/// filed under one key: its remote_addr network (one table per prefix length), else its server_port, else
/// in the list of routes with neither. A connection looks up its candidates in each table; every candidate
/// list is in configuration order, so the answer is the smallest index among each list's first full match.
/// </summary>
internal sealed class RouteTable
{
    private readonly StreamRoute[] _routes;
    private readonly RemoteIndex[] _byRemote;
    private readonly Dictionary<int, int[]> _byPort;
    private readonly int[] _rest;
    private readonly Dictionary<string, StreamRoute> _byId;

    public RouteTable(IReadOnlyList<StreamRoute> routes)
    {
        _routes = [.. routes];
        var byRemote = new Dictionary<int, Dictionary<IpAddr, List<int>>>();
        var byPort = new Dictionary<int, List<int>>();
        var rest = new List<int>();
        _byId = new Dictionary<string, StreamRoute>(StringComparer.Ordinal);
        for (var i = 0; i < _routes.Length; i++)
        {
            var route = _routes[i];
            _byId.TryAdd(route.Id, route);
            if (route.RemoteAddress is { } remote)
            {
                if (!byRemote.TryGetValue(remote.Length, out var networks))
                {
                    byRemote[remote.Length] = networks = [];
                }
                Add(networks, remote.Network, i);
            }
            else if (route.ServerPort != 0)
            {
                Add(byPort, route.ServerPort, i);
            }
            else
            {
                rest.Add(i);
            }
        }
        // Longest prefixes first: the most specific tables are the likeliest to hold an early match.
        _byRemote = [.. byRemote.OrderByDescending(p => p.Key).Select(p => new RemoteIndex(p.Key, p.Value.ToDictionary(n => n.Key, n => n.Value.ToArray())))];
        _byPort = byPort.ToDictionary(p => p.Key, p => p.Value.ToArray());
        _rest = [.. rest];
    }

    public static RouteTable Empty { get; } = new([]);

    public IReadOnlyList<StreamRoute> Routes => _routes;

    public StreamRoute? FindById(string id) => _byId.GetValueOrDefault(id);

    public StreamRoute? Match(in ConnectionAddresses connection)
    {
        var best = int.MaxValue;
        foreach (var index in _byRemote)
        {
            if (index.Networks.TryGetValue(IpPrefix.MaskTo(connection.RemoteAddress, index.Length), out var candidates))
            {
                best = FirstMatch(candidates, connection, best);
            }
        }
        if (_byPort.TryGetValue(connection.ServerPort, out var portCandidates))
        {
            best = FirstMatch(portCandidates, connection, best);
        }
        best = FirstMatch(_rest, connection, best);
        return best == int.MaxValue ? null : _routes[best];
    }

    /// <summary>The first route of <paramref name="candidates"/> that matches, if it comes before <paramref name="bound"/>.</summary>
    private int FirstMatch(int[] candidates, in ConnectionAddresses connection, int bound)
    {
        foreach (var index in candidates)
        {
            if (index >= bound)
            {
                break;
            }
            if (_routes[index].Matches(connection))
            {
                return index;
            }
        }
        return bound;
    }

    private static void Add<TKey>(Dictionary<TKey, List<int>> lists, TKey key, int index)
        where TKey : notnull
    {
        if (!lists.TryGetValue(key, out var list))
        {
            lists[key] = list = [];
        }
        list.Add(index);
    }

    private sealed record RemoteIndex(int Length, Dictionary<IpAddr, int[]> Networks);
}
