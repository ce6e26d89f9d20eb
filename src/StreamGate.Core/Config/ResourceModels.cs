using System.Text.Json.Nodes;

namespace StreamGate.Config;

/// <summary>A stream route as users write it (APISIX's stream_route schema), validated but not yet resolved.</summary>
internal sealed record StreamRouteConfig
{
    public required string Id { get; init; }
    public string? Name { get; init; }
    public string? Desc { get; init; }
    public IReadOnlyDictionary<string, string>? Labels { get; init; }
    public string? RemoteAddr { get; init; }
    public string? ServerAddr { get; init; }
    public int? ServerPort { get; init; }
    public UpstreamConfig? Upstream { get; init; }
    public string? UpstreamId { get; init; }
    public string? ServiceId { get; init; }
    public JsonObject? Plugins { get; init; }
}

/// <summary>An upstream: where connections go and how they get there.</summary>
internal sealed record UpstreamConfig
{
    public string? Id { get; init; }
    public string? Name { get; init; }
    public string? Desc { get; init; }
    public IReadOnlyDictionary<string, string>? Labels { get; init; }
    public required IReadOnlyList<NodeConfig> Nodes { get; init; }
    public string Type { get; init; } = "roundrobin";
    public string? HashOn { get; init; }
    public string? Key { get; init; }

    /// <summary>Connect attempts after the first; null means APISIX's default, nodes - 1.</summary>
    public int? Retries { get; init; }

    /// <summary>Seconds all retries together may take; 0 = no limit (APISIX's default).</summary>
    public double RetryTimeout { get; init; }

    public TimeoutConfig Timeout { get; init; } = TimeoutConfig.Default;
    public string Scheme { get; init; } = "tcp";

    /// <summary>Health checks; null: every node with a weight is used, whatever happens to it.</summary>
    public ChecksConfig? Checks { get; init; }
}

/// <summary>One upstream node. Weight 0 keeps a node listed but sends it nothing, as in APISIX.</summary>
internal sealed record NodeConfig(string Host, int Port, int Weight, int Priority);

/// <summary>
/// Upstream timeouts in seconds. Defaults are nginx stream's, which APISIX keeps: proxy_connect_timeout 60s and
/// proxy_timeout 10m; a stream connection's idle timeout is max(send, read) because nginx stream has one timer.
/// </summary>
internal sealed record TimeoutConfig(double Connect, double Send, double Read)
{
    public static readonly TimeoutConfig Default = new(60, 600, 600);

    public double Idle => Math.Max(Send, Read);
}

/// <summary>A service: an upstream and plugins shared by the routes that name it.</summary>
internal sealed record ServiceConfig
{
    public required string Id { get; init; }
    public string? Name { get; init; }
    public string? Desc { get; init; }
    public IReadOnlyDictionary<string, string>? Labels { get; init; }
    public UpstreamConfig? Upstream { get; init; }
    public string? UpstreamId { get; init; }
    public JsonObject? Plugins { get; init; }
}

/// <summary>Everything the data plane serves, as one consistent set of resources (routes keep their order).</summary>
internal sealed record ConfigSet(
    IReadOnlyList<StreamRouteConfig> Routes,
    IReadOnlyDictionary<string, UpstreamConfig> Upstreams,
    IReadOnlyDictionary<string, ServiceConfig> Services)
{
    public static readonly ConfigSet Empty = new([], new Dictionary<string, UpstreamConfig>(), new Dictionary<string, ServiceConfig>());
}
