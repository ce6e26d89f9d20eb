using System.Net;
using System.Runtime.CompilerServices;
using StreamGate.Config;
using StreamGate.Routing;
using StreamGate.Upstreams;

namespace StreamGate.Runtime;

/// <summary>
/// Resolves a <see cref="ConfigSet"/> into a <see cref="RuntimeSnapshot"/>: follows upstream_id and service_id
/// references, inherits a service's upstream, gives nodes the addresses their host names resolved to, compiles
/// the route table. Every dangling reference is reported: a file with any is refused as a whole, a store skips the
/// objects concerned. Each source of configuration owns one builder, and with it the runtime objects it may reuse.
/// </summary>
internal sealed class SnapshotBuilder
{
    private readonly HostResolver _resolver;
    private readonly UpstreamRuntime _runtime;
    // Runtime objects built from a config object are reused while that same object is still in use: a store
    // keeps the parsed object of an unchanged key, so a write to one route rebuilds one route, not 10,000, and
    // unchanged upstreams keep their balancer state. An upstream is reused only while its names also resolve to
    // the addresses it was built with. Weak keys: entries go with the config objects.
    private readonly ConditionalWeakTable<UpstreamConfig, BuiltUpstream> _upstreams = new();
    private readonly ConditionalWeakTable<StreamRouteConfig, StreamRoute> _routes = new();

    /// <param name="runtime">Node state and health kept across builds (the snapshot holder's); a private one when null.</param>
    public SnapshotBuilder(HostResolver resolver, UpstreamRuntime? runtime = null)
    {
        _resolver = resolver;
        _runtime = runtime ?? new UpstreamRuntime();
    }

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
        var problems = new List<BuildProblem>();
        var snapshot = Build(config, version, problems, hosts);
        if (problems.Count > 0)
        {
            throw new ConfigException([.. problems.Select(p => p.ToConfigError())]);
        }
        return snapshot;
    }

    /// <summary>
    /// Builds a snapshot of everything that resolves and reports the rest in <paramref name="problems"/>: a store
    /// applies each write on its own, so one route whose service was force-deleted must not stop the others.
    /// Each object is built on its own: whatever one throws skips that object (and what depends on it) with the
    /// reason, never the build. Synchronous and free of I/O: the names were looked up before.
    /// </summary>
    public RuntimeSnapshot Build(ConfigSet config, long version, List<BuildProblem> problems, IReadOnlyDictionary<string, IPAddress?> hosts)
    {
        var before = problems.Count;
        var named = new Dictionary<string, Upstream>(StringComparer.Ordinal);
        // Objects that failed to build, with why: what refers to them says so instead of "404".
        var failed = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (id, upstream) in config.Upstreams)
        {
            try
            {
                named[id] = CreateUpstream(id, upstream, hosts);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                var reason = CannotBuild(e);
                problems.Add(new BuildProblem("upstreams", id, null, reason));
                failed["upstreams/" + id] = reason;
            }
        }
        var services = new Dictionary<string, Upstream?>(StringComparer.Ordinal);
        foreach (var (id, service) in config.Services)
        {
            Upstream? upstream = null;
            if (service.Upstream is not null)
            {
                try
                {
                    upstream = CreateUpstream("service:" + id, service.Upstream, hosts);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    var reason = CannotBuild(e);
                    problems.Add(new BuildProblem("services", id, "upstream", reason));
                    failed["services/" + id] = reason;
                }
            }
            else if (service.UpstreamId is not null && !named.TryGetValue(service.UpstreamId, out upstream))
            {
                var reason = Missing("upstream", service.UpstreamId, failed);
                problems.Add(new BuildProblem("services", id, "upstream_id", reason));
                failed["services/" + id] = reason;
            }
            services[id] = upstream;
        }
        var built = new HashSet<Upstream>(named.Values, ReferenceEqualityComparer.Instance);
        foreach (var upstream in services.Values)
        {
            if (upstream is not null)
            {
                built.Add(upstream);
            }
        }
        var routes = new List<StreamRoute>(config.Routes.Count);
        var served = new List<StreamRouteConfig>(config.Routes.Count);
        foreach (var route in config.Routes)
        {
            try
            {
                if (BuildRoute(route, named, services, failed, hosts, problems) is { } compiled)
                {
                    routes.Add(compiled);
                    served.Add(route);
                    built.Add(compiled.Upstream);
                }
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                problems.Add(new BuildProblem("stream_routes", route.Id, null, CannotBuild(e)));
            }
        }
        // The source a snapshot shows (the control API) is what it serves: without the objects skipped.
        var source = problems.Count == before ? config : new ConfigSet(
            served,
            config.Upstreams.Where(u => named.ContainsKey(u.Key)).ToDictionary(StringComparer.Ordinal),
            config.Services.Where(s => !failed.ContainsKey("services/" + s.Key)).ToDictionary(StringComparer.Ordinal));
        return new RuntimeSnapshot(new RouteTable(routes), source, version, upstreams: [.. built]);
    }

    private StreamRoute? BuildRoute(StreamRouteConfig route, Dictionary<string, Upstream> named, Dictionary<string, Upstream?> services, Dictionary<string, string> failed, IReadOnlyDictionary<string, IPAddress?> hosts, List<BuildProblem> problems)
    {
        Upstream? upstream;
        Upstream? serviceUpstream = null;
        if (route.ServiceId is not null && !services.TryGetValue(route.ServiceId, out serviceUpstream))
        {
            problems.Add(new BuildProblem("stream_routes", route.Id, "service_id", Missing("service", route.ServiceId, failed)));
            return null;
        }
        if (route.Upstream is not null)
        {
            upstream = CreateUpstream("route:" + route.Id, route.Upstream, hosts);
        }
        else if (route.UpstreamId is not null)
        {
            if (!named.TryGetValue(route.UpstreamId, out upstream))
            {
                problems.Add(new BuildProblem("stream_routes", route.Id, "upstream_id", Missing("upstream", route.UpstreamId, failed)));
                return null;
            }
        }
        else
        {
            upstream = serviceUpstream;
        }
        if (upstream is null && route.ServiceId is not null && failed.ContainsKey("services/" + route.ServiceId))
        {
            problems.Add(new BuildProblem("stream_routes", route.Id, "service_id", Missing("service", route.ServiceId, failed)));
            return null;
        }
        if (upstream is null)
        {
            problems.Add(new BuildProblem("stream_routes", route.Id, null, $"the route has no upstream: its service [{route.ServiceId}] has none either; set upstream or upstream_id on the route or the service"));
            return null;
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
        return compiled;
    }

    /// <summary>APISIX's answer for a reference to nothing; for a reference to an object that was skipped, why that one was.</summary>
    private static string Missing(string kind, string id, Dictionary<string, string> failed) =>
        failed.TryGetValue(kind + "s/" + id, out var reason)
            ? $"its {kind} [{id}] is skipped: {reason}"
            : $"failed to fetch {kind} info by {kind} id [{id}], response code: 404";

    private static string CannotBuild(Exception e) => $"cannot be built: {e.Message} ({e.GetType().Name})";

    private static IpPrefix Prefix(string text) =>
        IpPrefix.TryParse(text, out var prefix) ? prefix : throw new InvalidOperationException($"validated address {text} did not parse");

    private Upstream CreateUpstream(string id, UpstreamConfig config, IReadOnlyDictionary<string, IPAddress?> hosts)
    {
        if (_upstreams.TryGetValue(config, out var built) && built.Upstream.Id == id && built.SameAddresses(config, hosts) && SameHealth(built.Upstream))
        {
            return built.Upstream;
        }
        var addresses = new IPAddress?[config.Nodes.Count];
        var nodes = new List<UpstreamNode>(config.Nodes.Count);
        var states = new NodeState[config.Nodes.Count];
        var health = config.Checks is null ? null : new Health.NodeHealth[config.Nodes.Count];
        var hasNames = false;
        for (var i = 0; i < config.Nodes.Count; i++)
        {
            var node = config.Nodes[i];
            hasNames |= !IPAddress.TryParse(node.Host, out var address);
            address ??= hosts.GetValueOrDefault(node.Host);
            addresses[i] = address;
            nodes.Add(new UpstreamNode(node.Host, node.Port, node.Weight, node.Priority, address)
            {
                AddressError = address is null ? _resolver.LastError(node.Host) ?? "the name has not resolved yet" : null,
            });
            states[i] = _runtime.States.Get(id, node.Host, node.Port);
            if (health is not null)
            {
                health[i] = _runtime.Health.Get(config.Checks!, node.Host, node.Port);
            }
        }
        var created = new Upstream(id, nodes, config, states, health, _runtime.States.Last(id));
        _upstreams.AddOrUpdate(config, new BuiltUpstream(created, hasNames ? addresses : null));
        return created;
    }

    /// <summary>
    /// Whether a reused upstream still holds the registry's health of each node. One left out of a snapshot for a while
    /// (its service was missing) may come back after the registry forgot its healths and another upstream with the same
    /// checks got new ones: it must be rebuilt on those, or one node would have two healths and only one probed.
    /// </summary>
    private bool SameHealth(Upstream upstream)
    {
        if (upstream.Health is not { } healths)
        {
            return true;
        }
        for (var i = 0; i < healths.Length; i++)
        {
            var node = upstream.Nodes[i];
            if (!ReferenceEquals(healths[i], _runtime.Health.Get(upstream.Config.Checks!, node.Host, node.Port)))
            {
                return false;
            }
        }
        return true;
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

/// <summary>An object the builder could not serve: which one (its collection and id), the field at fault if one, and why.</summary>
internal sealed record BuildProblem(string Resource, string Id, string? Field, string Message)
{
    /// <summary>As a file's error: <c>stream_routes[id=1].upstream_id</c>.</summary>
    public ConfigError ToConfigError() => new($"{Resource}[id={Id}]{(Field is null ? "" : "." + Field)}", Message);

    /// <summary>As a store's skipped object: its key under <paramref name="prefix"/> and the reason, with the field.</summary>
    public SkippedObject ToSkipped(string prefix) => new($"{prefix}{Resource}/{Id}", Field is null ? Message : $"{Field}: {Message}");
}
