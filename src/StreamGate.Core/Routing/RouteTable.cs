using StreamGate.Upstreams;

namespace StreamGate.Routing;

/// <summary>
/// Stream routes in their configured order; the first whose present fields all hold wins (APISIX's ip_port
/// router). Routes that name a server_port are indexed by it, so a connection only looks at the routes of
/// its port plus the port-less ones, merged back into configuration order.
/// </summary>
internal sealed class RouteTable
{
    private readonly StreamRoute[] _routes;
    private readonly Dictionary<int, int[]> _byPort;
    private readonly int[] _anyPort;
    private readonly Dictionary<string, StreamRoute> _byId;

    public RouteTable(IReadOnlyList<StreamRoute> routes)
    {
        _routes = [.. routes];
        var byPort = new Dictionary<int, List<int>>();
        var anyPort = new List<int>();
        for (var i = 0; i < _routes.Length; i++)
        {
            if (_routes[i].ServerPort == 0)
            {
                anyPort.Add(i);
            }
            else
            {
                if (!byPort.TryGetValue(_routes[i].ServerPort, out var list))
                {
                    byPort[_routes[i].ServerPort] = list = [];
                }
                list.Add(i);
            }
        }
        _byPort = byPort.ToDictionary(p => p.Key, p => p.Value.ToArray());
        _anyPort = [.. anyPort];
        _byId = new Dictionary<string, StreamRoute>(StringComparer.Ordinal);
        foreach (var route in _routes)
        {
            _byId.TryAdd(route.Id, route);
        }
    }

    public StreamRoute? FindById(string id) => _byId.GetValueOrDefault(id);

    public static RouteTable Empty { get; } = new([]);

    public IReadOnlyList<StreamRoute> Routes => _routes;

    public StreamRoute? Match(in ConnectionAddresses connection)
    {
        var portRoutes = _byPort.TryGetValue(connection.ServerPort, out var list) ? list : [];
        int p = 0, a = 0;
        // Merge two ascending index lists so that configuration order decides, whichever list a route is in.
        while (p < portRoutes.Length || a < _anyPort.Length)
        {
            int index;
            if (a >= _anyPort.Length || (p < portRoutes.Length && portRoutes[p] < _anyPort[a]))
            {
                index = portRoutes[p++];
            }
            else
            {
                index = _anyPort[a++];
            }
            var route = _routes[index];
            if (route.Matches(connection))
            {
                return route;
            }
        }
        return null;
    }
}
