using System.Net;
using System.Runtime.CompilerServices;
using StreamGate.Config;
using StreamGate.Routing;
using StreamGate.Upstreams;

namespace StreamGate.Runtime;

/// <summary>
/// Resolves a <see cref="ConfigSet"/> into a <see cref="RuntimeSnapshot"/>: follows upstream_id and service_id
/// references, inherits a service's upstream, gives nodes the addresses their host names resolved to, compiles
/// the route table. Every dangling reference is reported; a set with any is refused as a whole. Each source of
/// configuration owns one builder, and with it the runtime objects it may reuse.
/// </summary>
internal sealed class SnapshotBuilder
{
    private readonly HostResolver _resolver;
    // Runtime objects built from a config object are reused while that same object is still in use: a store
    // keeps the parsed object of an unchanged key, so a write to one route rebuilds one route, not 10,000, and
    // unchanged upstreams keep their balancer state. An upstream is reused only while its names also resolve to
    // the addresses it was built with. Weak keys: entries go with the config objects.
    private readonly ConditionalWeakTable<UpstreamConfig, BuiltUpstream> _upstreams = new();
    private readonly ConditionalWeakTable<StreamRouteConfig, StreamRoute> _routes = new();

    public SnapshotBuilder(HostResolver resolver) => _resolver = resolver;

    /// <summary>Resolves the set's host names, then builds; throws with every problem (a file is applied whole or not at all).</summary>
    public async Task<RuntimeSnapshot> BuildAsync(ConfigSet config, long version, CancellationToken cancellation = default)
    {
        var hosts = await _resolver.ResolveAsync(config, cancellation).ConfigureAwait(false);
        return Build(config, version, hosts);
    }

    /// <summary>Builds a snapshot on addresses already resolved, or throws with every problem.</summary>
    /// <param name="hosts">Host name to address (null: did not resolve), as <see cref="HostResolver.ResolveAsync"/> gives; IP literals need no entry.</param>
    public RuntimeSnapshot Build(ConfigSet config, long version, IReadOnlyDictionary<string, IPAddress?> hosts)
    {
        var errors = new List<ConfigError>();
        var snapshot = Build(config, version, errors, hosts);
        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }
        return snapshot;
    }

    /// <summary>
    /// Builds a snapshot of everything that resolves and reports the rest in <paramref name="errors"/>: a store
    /// applies each write on its own, so one route whose service was force-deleted must not stop the others.
    /// Synchronous and free of I/O: the names were looked up before.
    /// </summary>
    public RuntimeSnapshot Build(ConfigSet config, long version, List<ConfigError> errors, IReadOnlyDictionary<string, IPAddress?> hosts)
    {
        var named = new Dictionary<string, Upstream>(StringComparer.Ordinal);
        foreach (var (id, upstream) in config.Upstreams)
        {
            named[id] = CreateUpstream(id, upstream, hosts);
        }
        var services = new Dictionary<string, Upstream?>(StringComparer.Ordinal);
        foreach (var (id, service) in config.Services)
        {
            Upstream? upstream = null;
            if (service.Upstream is not null)
            {
                upstream = CreateUpstream("service:" + id, service.Upstream, hosts);
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
                upstream = CreateUpstream("route:" + route.Id, route.Upstream, hosts);
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
            if (!_routes.TryGetValue(route, out var compiled) || !ReferenceEquals(compiled.Upstream, upstream))
            {
                compiled = new StreamRoute(
                    route.Id,
                    route.RemoteAddr is null ? null : Prefix(route.RemoteAddr),
                    route.ServerAddr is null ? null : Prefix(route.ServerAddr),
                    route.ServerPort ?? 0,
                    upstream);
                _routes.AddOrUpdate(route, compiled);
            }
            routes.Add(compiled);
        }
        return new RuntimeSnapshot(new RouteTable(routes), config, version);
    }

    private static IpPrefix Prefix(string text) =>
        IpPrefix.TryParse(text, out var prefix) ? prefix : throw new InvalidOperationException($"validated address {text} did not parse");

    private Upstream CreateUpstream(string id, UpstreamConfig config, IReadOnlyDictionary<string, IPAddress?> hosts)
    {
        if (_upstreams.TryGetValue(config, out var built) && built.Upstream.Id == id && built.SameAddresses(config, hosts))
        {
            return built.Upstream;
        }
        var addresses = new IPAddress?[config.Nodes.Count];
        var nodes = new List<UpstreamNode>(config.Nodes.Count);
        var hasNames = false;
        for (var i = 0; i < config.Nodes.Count; i++)
        {
            var node = config.Nodes[i];
            hasNames |= !IPAddress.TryParse(node.Host, out var address);
            address ??= hosts.GetValueOrDefault(node.Host);
            addresses[i] = address;
            nodes.Add(new UpstreamNode(node.Host, node.Port, node.Weight, node.Priority, address));
        }
        var created = new Upstream(id, nodes, config);
        _upstreams.AddOrUpdate(config, new BuiltUpstream(created, hasNames ? addresses : null));
        return created;
    }

    /// <summary>An upstream and the node addresses it was built with (null when every node is an IP literal).</summary>
    private sealed record BuiltUpstream(Upstream Upstream, IPAddress?[]? Addresses)
    {
        public bool SameAddresses(UpstreamConfig config, IReadOnlyDictionary<string, IPAddress?> hosts)
        {
            if (Addresses is null)
            {
                return true;
            }
            for (var i = 0; i < Addresses.Length; i++)
            {
                var host = config.Nodes[i].Host;
                var current = IPAddress.TryParse(host, out var literal) ? literal : hosts.GetValueOrDefault(host);
                if (!Equals(current, Addresses[i]))
                {
                    return false;
                }
            }
            return true;
        }
    }
}
