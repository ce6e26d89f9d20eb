using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using StreamGate.Routing;

namespace StreamGate.Config;

/// <summary>
/// Turns JSON objects (from apisix.yaml or an admin request) into validated resource configs, following
/// APISIX's schema_def.lua for stream routes, upstreams and services. Every error is collected with its path.
/// </summary>
internal static partial class ResourceParser
{
    /// <summary>Plugins this build serves; later plugin work registers itself here.</summary>
    public static readonly IReadOnlySet<string> KnownPlugins = new HashSet<string>(StringComparer.Ordinal);

    [GeneratedRegex("^[a-zA-Z0-9-_.]+$")]
    private static partial Regex IdPattern();

    [GeneratedRegex(@"^\*?[0-9a-zA-Z-._\[\]:]+$")]
    private static partial Regex HostPattern();

    public static string? ReadId(JsonObjectReader reader, string name = "id")
    {
        var node = reader.Node(name);
        if (node is null)
        {
            return null;
        }
        if (node.GetValueKind() == JsonValueKind.String)
        {
            var text = reader.String(name, 1, 64, IdPattern());
            if (text is "." or "..")
            {
                // A path segment of dots is removed from URLs, so /stream_routes/.. could never be read or deleted.
                reader.Error(name, $"\"{text}\" is not a usable id: it is a path segment that URLs remove");
                return null;
            }
            return text;
        }
        if (JsonObjectReader.TryGetInteger(node, out var number))
        {
            return reader.InRange(name, number, 1, long.MaxValue) ? number.ToString(CultureInfo.InvariantCulture) : null;
        }
        reader.Error(name, $"object matches none of the required: expected string or integer, got {JsonObjectReader.Describe(node)}");
        return null;
    }

    /// <summary>The fields every APISIX object has: id, name, desc, labels, and the times the admin API sets.</summary>
    private static (string? Id, string? Name, string? Desc, IReadOnlyDictionary<string, string>? Labels) ReadCommon(JsonObjectReader r)
    {
        r.Allow("create_time", "update_time");
        return (ReadId(r), r.String("name", 1, 100), r.String("desc", 0, 256), r.Labels());
    }

    /// <summary>upstream (inline) or upstream_id, never both: the target of a route or a service.</summary>
    private static (UpstreamConfig? Upstream, string? UpstreamId, bool HasTarget) ReadUpstreamTarget(JsonObjectReader r)
    {
        var upstreamObj = r.Object("upstream");
        var upstream = upstreamObj is null ? null : ParseUpstream(upstreamObj, r.Child("upstream"), r.Errors);
        var upstreamId = ReadId(r, "upstream_id");
        if (upstreamObj is not null && upstreamId is not null)
        {
            r.Errors.Add(new ConfigError(r.Path, "set either upstream or upstream_id, not both"));
        }
        return (upstream, upstreamId, upstreamObj is not null || upstreamId is not null);
    }

    public static StreamRouteConfig? ParseStreamRoute(JsonObject obj, string path, List<ConfigError> errors)
    {
        var before = errors.Count;
        var r = new JsonObjectReader(obj, path, errors);
        var (id, name, desc, labels) = ReadCommon(r);
        var remoteAddr = ReadAddress(r, "remote_addr");
        var serverAddr = ReadAddress(r, "server_addr");
        var serverPort = (int?)r.Integer("server_port", 1, 65535);
        foreach (var tlsField in (ReadOnlySpan<string>)["sni", "snis", "tls_passthrough"])
        {
            if (r.Has(tlsField))
            {
                r.Error(tlsField, "TLS routing is not available in this StreamGate version yet; remove it or route by server_port");
            }
            r.Allow(tlsField);
        }
        var (upstream, upstreamId, hasTarget) = ReadUpstreamTarget(r);
        var serviceId = ReadId(r, "service_id");
        var plugins = ReadPlugins(r);
        r.Finish();
        if (!hasTarget && serviceId is null && errors.Count == before)
        {
            errors.Add(new ConfigError(path, "the route has nowhere to send connections: set upstream, upstream_id or service_id"));
        }
        if (errors.Count != before)
        {
            return null;
        }
        return new StreamRouteConfig
        {
            Id = id ?? "",
            Name = name,
            Desc = desc,
            Labels = labels,
            RemoteAddr = remoteAddr,
            ServerAddr = serverAddr,
            ServerPort = serverPort,
            Upstream = upstream,
            UpstreamId = upstreamId,
            ServiceId = serviceId,
            Plugins = plugins,
        };
    }

    public static ServiceConfig? ParseService(JsonObject obj, string path, List<ConfigError> errors)
    {
        var before = errors.Count;
        var r = new JsonObjectReader(obj, path, errors);
        var (id, name, desc, labels) = ReadCommon(r);
        // ours: a service's type is stream; this gateway serves L4 only, so nothing else is accepted.
        r.Enum("type", "stream");
        var (upstream, upstreamId, _) = ReadUpstreamTarget(r);
        var plugins = ReadPlugins(r);
        r.Finish();
        if (errors.Count != before)
        {
            return null;
        }
        return new ServiceConfig { Id = id ?? "", Name = name, Desc = desc, Labels = labels, Upstream = upstream, UpstreamId = upstreamId, Plugins = plugins };
    }

    public static UpstreamConfig? ParseUpstream(JsonObject obj, string path, List<ConfigError> errors)
    {
        var before = errors.Count;
        var r = new JsonObjectReader(obj, path, errors);
        var (id, name, desc, labels) = ReadCommon(r);
        // HTTP-only knobs that APISIX accepts on any upstream; a stream connection has no Host header or keepalive pool.
        r.Allow("pass_host", "upstream_host", "keepalive_pool", "hash_on", "key");
        var nodes = ReadNodes(r);
        var type = r.Enum("type", "roundrobin", "chash", "least_conn", "ewma");
        if (type is "chash" or "least_conn" or "ewma")
        {
            r.Error("type", $"balancer \"{type}\" is not available in this StreamGate version yet; use roundrobin");
        }
        var hashOn = r.Enum("hash_on", "vars", "header", "cookie", "consumer", "vars_combinations");
        var key = r.String("key");
        var retries = (int?)r.Integer("retries", 0, 65535);
        var retryTimeout = r.Number("retry_timeout", 0) ?? 0;
        var timeout = ReadTimeout(r);
        var scheme = r.Enum("scheme", "tcp", "tls", "udp", "grpc", "grpcs", "http", "https", "kafka");
        if (scheme is not (null or "tcp"))
        {
            r.Error("scheme", $"scheme \"{scheme}\" is not available for stream upstreams in this StreamGate version yet; use tcp");
        }
        foreach (var later in (ReadOnlySpan<string>)["checks", "tls", "discovery_type", "service_name", "discovery_args"])
        {
            if (r.Has(later))
            {
                r.Error(later, "not available in this StreamGate version yet; remove it");
            }
            r.Allow(later);
        }
        r.Finish();
        if (nodes is null && errors.Count == before)
        {
            errors.Add(new ConfigError(r.Child("nodes"), "property \"nodes\" is required"));
        }
        if (errors.Count != before || nodes is null)
        {
            return null;
        }
        return new UpstreamConfig
        {
            Id = id,
            Name = name,
            Desc = desc,
            Labels = labels,
            Nodes = nodes,
            Type = type ?? "roundrobin",
            HashOn = hashOn,
            Key = key,
            Retries = retries,
            RetryTimeout = retryTimeout,
            Timeout = timeout,
            Scheme = scheme ?? "tcp",
        };
    }

    private static string? ReadAddress(JsonObjectReader r, string name)
    {
        var text = r.String(name);
        if (text is not null && !IpPrefix.TryParse(text, out _))
        {
            r.Errors.Add(new ConfigError(r.Child(name), $"invalid {name}: {text}; write an IPv4 or IPv6 address, optionally with a CIDR prefix (127.0.0.1, 10.0.0.0/8, ::1, fe80::/10)"));
            return null;
        }
        return text;
    }

    private static JsonObject? ReadPlugins(JsonObjectReader r)
    {
        var plugins = r.Object("plugins");
        if (plugins is null)
        {
            return null;
        }
        foreach (var (name, _) in plugins)
        {
            if (!KnownPlugins.Contains(name))
            {
                r.Errors.Add(new ConfigError(r.Child("plugins") + "." + name, $"unknown plugin [{name}]"));
            }
        }
        return plugins;
    }

    private static TimeoutConfig ReadTimeout(JsonObjectReader r)
    {
        var obj = r.Object("timeout");
        if (obj is null)
        {
            return TimeoutConfig.Default;
        }
        var t = new JsonObjectReader(obj, r.Child("timeout"), r.Errors);
        var connect = t.Number("connect", 0, exclusiveMinimum: true);
        var send = t.Number("send", 0, exclusiveMinimum: true);
        var read = t.Number("read", 0, exclusiveMinimum: true);
        t.Finish();
        return new TimeoutConfig(connect ?? TimeoutConfig.Default.Connect, send ?? TimeoutConfig.Default.Send, read ?? TimeoutConfig.Default.Read);
    }

    private static List<NodeConfig>? ReadNodes(JsonObjectReader r)
    {
        var node = r.Node("nodes");
        var path = r.Child("nodes");
        switch (node)
        {
            case null:
                return null;
            case JsonObject map:
                {
                    var nodes = new List<NodeConfig>();
                    foreach (var (hostPort, weightNode) in map)
                    {
                        if (!TryParseHostPort(hostPort, out var host, out var port))
                        {
                            r.Errors.Add(new ConfigError($"{path}[\"{hostPort}\"]", $"invalid node address \"{hostPort}\"; write host:port, with IPv6 in brackets ([::1]:6379)"));
                            continue;
                        }
                        if (weightNode is null || !JsonObjectReader.TryGetInteger(weightNode, out var weight) || weight < 0 || weight > int.MaxValue)
                        {
                            r.Errors.Add(new ConfigError($"{path}[\"{hostPort}\"]", "the weight must be an integer of at least 0"));
                            continue;
                        }
                        nodes.Add(new NodeConfig(host, port, (int)weight, 0));
                    }
                    return nodes;
                }
            case JsonArray array:
                {
                    var nodes = new List<NodeConfig>();
                    for (var i = 0; i < array.Count; i++)
                    {
                        var itemPath = $"{path}[{i}]";
                        if (array[i] is not JsonObject item)
                        {
                            r.Errors.Add(new ConfigError(itemPath, $"wrong type: expected object, got {JsonObjectReader.Describe(array[i])}"));
                            continue;
                        }
                        var before = r.Errors.Count;
                        var n = new JsonObjectReader(item, itemPath, r.Errors);
                        var host = n.String("host", 1, 253, HostPattern());
                        var port = n.Integer("port", 1, 65535);
                        var weight = n.Integer("weight", 0, int.MaxValue);
                        var priority = n.Integer("priority", int.MinValue, int.MaxValue) ?? 0;
                        n.Allow("metadata");
                        n.Finish();
                        if (host is null && !n.Has("host"))
                        {
                            r.Errors.Add(new ConfigError(n.Child("host"), "property \"host\" is required"));
                        }
                        if (port is null && !n.Has("port"))
                        {
                            r.Errors.Add(new ConfigError(n.Child("port"), "property \"port\" is required: a stream upstream node needs a port"));
                        }
                        if (weight is null && !n.Has("weight"))
                        {
                            r.Errors.Add(new ConfigError(n.Child("weight"), "property \"weight\" is required"));
                        }
                        if (r.Errors.Count == before)
                        {
                            var bare = host!.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
                            nodes.Add(new NodeConfig(bare, (int)port!.Value, (int)weight!.Value, (int)priority));
                        }
                    }
                    return nodes;
                }
            default:
                r.Error("nodes", $"wrong type: expected object or array, got {JsonObjectReader.Describe(node)}");
                return null;
        }
    }

    /// <summary>Parses "host:port" and "[v6]:port" node keys; a bare IPv6 address without brackets is refused as ambiguous.</summary>
    public static bool TryParseHostPort(string text, out string host, out int port)
    {
        host = "";
        port = 0;
        string portText;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0 || close + 1 >= text.Length || text[close + 1] != ':')
            {
                return false;
            }
            host = text[1..close];
            portText = text[(close + 2)..];
        }
        else
        {
            var colon = text.LastIndexOf(':');
            if (colon <= 0 || text.IndexOf(':', StringComparison.Ordinal) != colon)
            {
                return false;
            }
            host = text[..colon];
            portText = text[(colon + 1)..];
        }
        return host.Length > 0 && HostPattern().IsMatch(host) &&
            int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;
    }
}
