using System.Net;
using System.Runtime.CompilerServices;
using System.Net.Sockets;
using StreamGate.Config;
using StreamGate.Routing;
using StreamGate.Upstreams;

namespace StreamGate.Runtime;

/// <summary>
/// Resolves a <see cref="ConfigSet"/> into a <see cref="RuntimeSnapshot"/>: follows upstream_id and service_id
/// references, inherits a service's upstream, resolves node host names once, compiles the route table.
/// Every dangling reference is reported; a set with any is refused as a whole.
/// </summary>
internal static class SnapshotBuilder
{
    // Runtime objects built from a config object are reused while that same object is still in use: a store
    // keeps the parsed object of an unchanged key, so a write to one route rebuilds one route, not 10,000, and
    // unchanged upstreams keep their balancer state. Weak keys: entries go with the config objects.
    private static readonly ConditionalWeakTable<UpstreamConfig, Upstream> s_upstreams = new();
    private static readonly ConditionalWeakTable<StreamRouteConfig, StreamRoute> s_routes = new();

    /// <summary>Builds a snapshot, or throws with every problem: a file is applied whole or not at all.</summary>
    public static RuntimeSnapshot Build(ConfigSet config, long version, Func<string, IPAddress?>? resolve = null)
    {
        var errors = new List<ConfigError>();
        var snapshot = Build(config, version, errors, resolve);
        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }
        return snapshot;
    }

    /// <summary>
    /// Builds a snapshot of everything that resolves and reports the rest in <paramref name="errors"/>: a store
    /// applies each write on its own, so one route whose service was force-deleted must not stop the others.
    /// </summary>
    public static RuntimeSnapshot Build(ConfigSet config, long version, List<ConfigError> errors, Func<string, IPAddress?>? resolve = null)
    {
        resolve ??= ResolveHost;
        var named = new Dictionary<string, Upstream>(StringComparer.Ordinal);
        foreach (var (id, upstream) in config.Upstreams)
        {
            named[id] = CreateUpstream(id, upstream, resolve);
        }
        var services = new Dictionary<string, Upstream?>(StringComparer.Ordinal);
        foreach (var (id, service) in config.Services)
        {
            Upstream? upstream = null;
            if (service.Upstream is not null)
            {
                upstream = CreateUpstream("service:" + id, service.Upstream, resolve);
            }
            else if (service.UpstreamId is not null && !named.TryGetValue(service.UpstreamId, out upstream))
            {
                errors.Add(new ConfigError($"services[id={id}].upstream_id", $"failed to fetch upstream info by upstream id [{service.UpstreamId}], response code: 404"));
            }
            services[id] = upstream;
        }
        var routes = new List<StreamRoute>(config.Routes.Count);
        foreach (var route in config.Routes)
        {
            var path = $"stream_routes[id={route.Id}]";
            Upstream? upstream = null;
            Upstream? serviceUpstream = null;
            if (route.ServiceId is not null && !services.TryGetValue(route.ServiceId, out serviceUpstream))
            {
                errors.Add(new ConfigError(path + ".service_id", $"failed to fetch service info by service id [{route.ServiceId}], response code: 404"));
                continue;
            }
            if (route.Upstream is not null)
            {
                upstream = CreateUpstream("route:" + route.Id, route.Upstream, resolve);
            }
            else if (route.UpstreamId is not null)
            {
                if (!named.TryGetValue(route.UpstreamId, out upstream))
                {
                    errors.Add(new ConfigError(path + ".upstream_id", $"failed to fetch upstream info by upstream id [{route.UpstreamId}], response code: 404"));
                    continue;
                }
            }
            else
            {
                upstream = serviceUpstream;
            }
            if (upstream is null)
            {
                errors.Add(new ConfigError(path, $"the route has no upstream: its service [{route.ServiceId}] has none either; set upstream or upstream_id on the route or the service"));
                continue;
            }
            if (!s_routes.TryGetValue(route, out var compiled) || !ReferenceEquals(compiled.Upstream, upstream))
            {
                compiled = new StreamRoute(
                    route.Id,
                    route.RemoteAddr is null ? null : Prefix(route.RemoteAddr),
                    route.ServerAddr is null ? null : Prefix(route.ServerAddr),
                    route.ServerPort ?? 0,
                    upstream);
                s_routes.AddOrUpdate(route, compiled);
            }
            routes.Add(compiled);
        }
        return new RuntimeSnapshot(new RouteTable(routes), config, version);
    }

    private static IpPrefix Prefix(string text) =>
        IpPrefix.TryParse(text, out var prefix) ? prefix : throw new InvalidOperationException($"validated address {text} did not parse");

    private static Upstream CreateUpstream(string id, UpstreamConfig config, Func<string, IPAddress?> resolve)
    {
        if (s_upstreams.TryGetValue(config, out var existing) && existing.Id == id)
        {
            return existing;
        }
        var created = CreateUpstreamUncached(id, config, resolve);
        s_upstreams.AddOrUpdate(config, created);
        return created;
    }

    private static Upstream CreateUpstreamUncached(string id, UpstreamConfig config, Func<string, IPAddress?> resolve)
    {
        var nodes = new List<UpstreamNode>(config.Nodes.Count);
        foreach (var node in config.Nodes)
        {
            nodes.Add(new UpstreamNode(node.Host, node.Port, node.Weight, node.Priority, resolve(node.Host)));
        }
        return new Upstream(id, nodes, config);
    }

    private static IPAddress? ResolveHost(string host)
    {
        if (IPAddress.TryParse(host, out var literal))
        {
            return literal;
        }
        try
        {
            var addresses = Dns.GetHostAddresses(host);
            return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault();
        }
        catch (SocketException)
        {
            return null;
        }
    }
}
