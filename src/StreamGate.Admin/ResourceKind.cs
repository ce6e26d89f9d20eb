using System.Text.Json.Nodes;
using StreamGate.Config;

namespace StreamGate.Admin;

/// <summary>One collection of the admin API (stream_routes, upstreams, services, ssls) and how its objects are checked.</summary>
internal sealed class ResourceKind
{
    private ResourceKind(string name, string singular, bool patchable, Func<JsonObject, List<ConfigError>, bool> validate)
    {
        Name = name;
        Singular = singular;
        Patchable = patchable;
        Validate = validate;
    }

    /// <summary>The path segment and etcd key segment: /apisix/admin/{Name}, {prefix}/{Name}/{id}.</summary>
    public string Name { get; }

    /// <summary>The name in APISIX's messages: "wrong stream route id".</summary>
    public string Singular { get; }

    /// <summary>APISIX allows PATCH on upstreams, services and ssls, not on stream routes.</summary>
    public bool Patchable { get; }

    /// <summary>Checks an object (id already set); adds errors with JSON paths; true when valid.</summary>
    public Func<JsonObject, List<ConfigError>, bool> Validate { get; }

    public bool HoldsPrivateKey => Name == "ssls";

    public static readonly ResourceKind StreamRoutes = new("stream_routes", "stream route", false, (o, e) => ResourceParser.ParseStreamRoute(o, "", e) is not null);
    public static readonly ResourceKind Upstreams = new("upstreams", "upstream", true, (o, e) => ResourceParser.ParseUpstream(o, "", e) is not null);
    public static readonly ResourceKind Services = new("services", "service", true, (o, e) => ResourceParser.ParseService(o, "", e) is not null);
    public static readonly ResourceKind Ssls = new("ssls", "ssl", true, (o, e) => SslParser.Parse(o, "", e) is not null);

    public static readonly IReadOnlyDictionary<string, ResourceKind> ByName = new Dictionary<string, ResourceKind>(StringComparer.Ordinal)
    {
        [StreamRoutes.Name] = StreamRoutes,
        [Upstreams.Name] = Upstreams,
        [Services.Name] = Services,
        [Ssls.Name] = Ssls,
    };
}
