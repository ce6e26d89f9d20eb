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

    /// <summary>
    /// The largest timeout in seconds: 2^31-1 ms (about 24.8 days), the most nginx's Lua timeout setters take.
    /// APISIX's schema has no maximum; a larger value (<c>1e16</c>) overflows a millisecond deadline.
    /// </summary>
    public const double MaxTimeoutSeconds = 2147483.647;

    /// <summary>The longest node host name (RFC 1123 names are at most 255 octets).</summary>
    public const int MaxHostLength = 255;

    // \z, not $: .NET's $ also matches before a final newline, which would let "1\n" through as an id.
    [GeneratedRegex(@"^[a-zA-Z0-9-_.]+\z")]
    private static partial Regex IdPattern();

    /// <summary>APISIX's host_def pattern; <see cref="CheckHost"/> then holds a node host to what the builder can use.</summary>
    [GeneratedRegex(@"^\*\z|^\*?[0-9a-zA-Z-._\[\]:]+\z")]
    private static partial Regex HostPattern();

    /// <summary>APISIX's rule_name_def and desc_def: names 1-256 characters, descriptions up to 256.</summary>
    public const int MaxNameLength = 256;

    public const int MaxDescLength = 256;

    /// <summary>The upstream balancers APISIX's schema names; StreamGate serves <see cref="ServedTypes"/> of them.</summary>
    public static readonly string[] UpstreamTypes = ["roundrobin", "chash", "least_conn", "ewma"];

    public static readonly string[] ServedTypes = ["roundrobin"];

    /// <summary>APISIX's upstream schemes; StreamGate serves tcp for now.</summary>
    public static readonly string[] UpstreamSchemes = ["tcp", "tls", "udp", "grpc", "grpcs", "http", "https", "kafka"];

    public static readonly string[] ServedSchemes = ["tcp"];

    public static readonly string[] HashOnValues = ["vars", "header", "cookie", "consumer", "vars_combinations"];

    /// <summary>The id pattern as APISIX's schema writes it (served by /schema/...).</summary>
    public static string IdPatternText => JsonObjectReader.PatternText(IdPattern());

    /// <summary>APISIX's host_def pattern as written (served by /schema/...).</summary>
    public static string HostPatternText => JsonObjectReader.PatternText(HostPattern());

    /// <summary>xRPC protocols (APISIX's stream_route.protocol) this build serves: none yet.</summary>
    public static readonly IReadOnlySet<string> KnownProtocols = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>
    /// An id: APISIX's id_schema, anyOf a string of 1-64 of <c>[a-zA-Z0-9-_.]</c> or an integer of at least 1. Any
    /// failure is APISIX's one anyOf message, <c>property "id" validation failed: object matches none of the required</c>
    /// (services.t TEST 11-13); what exactly is wrong goes in the hint.
    /// </summary>
    public static string? ReadId(JsonObjectReader reader, string name = "id")
    {
        var node = reader.Node(name);
        if (node is null)
        {
            return null;
        }
        var problems = new List<ConfigError>();
        var probe = reader.WithErrors(problems);
        string? id = null;
        if (node.GetValueKind() == JsonValueKind.String)
        {
            id = probe.String(name, 1, 64, IdPattern());
        }
        else if (JsonObjectReader.TryGetInteger(node, out var number))
        {
            id = probe.InRange(name, number, 1, long.MaxValue) ? number.ToString(CultureInfo.InvariantCulture) : null;
        }
        else
        {
            probe.Error(name, $"wrong type: expected string or integer, got {JsonObjectReader.Describe(node)}");
        }
        if (problems.Count > 0)
        {
            var prefix = $"property \"{name}\" validation failed: ";
            var detail = problems[0].Message.StartsWith(prefix, StringComparison.Ordinal) ? problems[0].Message[prefix.Length..] : problems[0].Message;
            reader.Errors.Add(new ConfigError(reader.Child(name), prefix + "object matches none of the required")
            {
                Hint = $"an id is a string of 1-64 of [a-zA-Z0-9-_.] or an integer of at least 1: {detail}",
            });
            return null;
        }
        if (id is "." or "..")
        {
            // ours: a path segment of dots is removed from URLs, so /stream_routes/.. could never be read or deleted.
            reader.Error(name, $"\"{id}\" is not a usable id: it is a path segment that URLs remove");
            return null;
        }
        return id;
    }

    /// <summary>
    /// APISIX's admin/plugin_metadata.lua check_conf for the plugin name: null when the build has the plugin,
    /// else its answer (<c>missing plugin name</c>, <c>invalid plugin name</c>), in the bare form.
    /// </summary>
    public static ConfigError? CheckPluginMetadataName(string? name) => name switch
    {
        null or "" => new ConfigError("", "missing plugin name") { Form = ConfigErrorForm.Bare },
        _ when !KnownPlugins.Contains(name) => new ConfigError("", "invalid plugin name")
        {
            Form = ConfigErrorForm.Bare,
            Hint = KnownPlugins.Count == 0 ? "this StreamGate version has no stream plugins yet" : $"stream plugins: {string.Join(", ", KnownPlugins.Order(StringComparer.Ordinal))}",
        },
        _ => null,
    };

    /// <summary>
    /// APISIX's admin resource.lua check_forbidden_properties: a request body may not set create_time or
    /// update_time, at the top, in its inline upstream or in plugins (services.t TEST 34, 35). Null when none is
    /// set; else APISIX's text, with its two spaces: <c>the property is forbidden:  upstream.create_time</c>.
    /// </summary>
    /// <remarks>
    /// "Set" is Lua's <c>if conf[v]</c>: any value but false, JSON null included (cjson's null is truthy).
    /// </remarks>
    public static string? ForbiddenProperty(JsonObject body)
    {
        ReadOnlySpan<string> forbidden = ["create_time", "update_time"];
        foreach (var name in forbidden)
        {
            if (IsSet(body, name))
            {
                return $"the property is forbidden:  {name}";
            }
        }
        foreach (var inner in (ReadOnlySpan<string>)["upstream", "plugins"])
        {
            if (body[inner] is JsonObject obj)
            {
                foreach (var name in forbidden)
                {
                    if (IsSet(obj, name))
                    {
                        return $"the property is forbidden:  {inner}.{name}";
                    }
                }
            }
        }
        return null;
    }

    private static bool IsSet(JsonObject obj, string name) =>
        obj.TryGetPropertyValue(name, out var value) && value?.GetValueKind() != JsonValueKind.False;

    /// <summary>The fields every APISIX object has: id, name, desc, labels, and the times the admin API sets.</summary>
    private static (string? Id, string? Name, string? Desc, IReadOnlyDictionary<string, string>? Labels) ReadCommon(JsonObjectReader r)
    {
        r.Allow("create_time", "update_time");
        // APISIX's rule_name_def and desc_def: 1-256 and 0-256 characters.
        return (ReadId(r), r.String("name", 1, MaxNameLength), r.String("desc", 0, MaxDescLength), r.Labels());
    }

    /// <summary>upstream (inline) or upstream_id, never both: the target of a route or a service.</summary>
    /// <param name="checkedAsUpstream">
    /// APISIX checks a service's inline upstream as an upstream object (bare IPv6 hosts refused); a stream route's
    /// inline upstream only against the schema.
    /// </param>
    private static (UpstreamConfig? Upstream, string? UpstreamId, bool HasTarget) ReadUpstreamTarget(JsonObjectReader r, bool checkedAsUpstream)
    {
        var upstreamObj = r.Object("upstream");
        var upstream = upstreamObj is null ? null : ParseUpstream(upstreamObj, r.Child("upstream"), r.Errors, checkedAsUpstream);
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
        var (upstream, upstreamId, hasTarget) = ReadUpstreamTarget(r, checkedAsUpstream: false);
        var serviceId = ReadId(r, "service_id");
        var plugins = ReadPlugins(r);
        ReadProtocol(r);
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
        var (upstream, upstreamId, _) = ReadUpstreamTarget(r, checkedAsUpstream: true);
        var plugins = ReadPlugins(r);
        r.Finish();
        if (errors.Count != before)
        {
            return null;
        }
        return new ServiceConfig { Id = id ?? "", Name = name, Desc = desc, Labels = labels, Upstream = upstream, UpstreamId = upstreamId, Plugins = plugins };
    }

    public static UpstreamConfig? ParseUpstream(JsonObject obj, string path, List<ConfigError> errors) => ParseUpstream(obj, path, errors, checkedAsUpstream: true);

    /// <param name="checkedAsUpstream">False for a stream route's inline upstream, where APISIX lets a bare IPv6 host through.</param>
    private static UpstreamConfig? ParseUpstream(JsonObject obj, string path, List<ConfigError> errors, bool checkedAsUpstream)
    {
        var before = errors.Count;
        var r = new JsonObjectReader(obj, path, errors);
        var (id, name, desc, labels) = ReadCommon(r);
        // HTTP-only knobs that APISIX accepts on any upstream; a stream connection has no Host header or keepalive pool.
        r.Allow("pass_host", "upstream_host", "keepalive_pool", "hash_on", "key");
        var nodes = ReadNodes(r, checkedAsUpstream);
        var type = r.Enum("type", UpstreamTypes);
        if (type is not null && Array.IndexOf(ServedTypes, type) < 0)
        {
            r.Error("type", $"balancer \"{type}\" is not available in this StreamGate version yet; use roundrobin");
        }
        var hashOn = r.Enum("hash_on", HashOnValues);
        var key = r.String("key");
        var retries = (int?)r.Integer("retries", 0, 65535);
        var retryTimeout = r.Number("retry_timeout", 0, MaxTimeoutSeconds) ?? 0;
        var timeout = ReadTimeout(r);
        var scheme = r.Enum("scheme", UpstreamSchemes);
        if (scheme is not null && Array.IndexOf(ServedSchemes, scheme) < 0)
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
            // APISIX's stream_route_checker, after the schema: the message bare, our fix apart.
            r.Errors.Add(new ConfigError(r.Child(name), $"invalid {name}: {text}")
            {
                Hint = "write an IPv4 or IPv6 address, optionally with a CIDR prefix (127.0.0.1, 10.0.0.0/8, ::1, fe80::/10)",
                Form = ConfigErrorForm.Bare,
            });
            return null;
        }
        return text;
    }

    /// <summary>
    /// protocol (APISIX's xRPC): an object with a name, checked against the protocols this build serves, which
    /// answers <c>unknown protocol [x]</c> as APISIX's xrpc.check_schema does.
    /// </summary>
    private static void ReadProtocol(JsonObjectReader r)
    {
        if (r.Object("protocol") is not { } protocol)
        {
            return;
        }
        var p = new JsonObjectReader(protocol, r.Child("protocol"), r.Errors);
        var before = r.Errors.Count;
        var name = p.String("name");
        _ = ReadId(p, "superior_id");
        _ = p.Object("conf");
        _ = p.Array("logger");
        // APISIX's xrpc_protocol_schema has no additionalProperties: false.
        if (name is null && !p.Has("name"))
        {
            r.Errors.Add(new ConfigError(p.Child("name"), "property \"name\" is required"));
        }
        if (name is not null && r.Errors.Count == before && !KnownProtocols.Contains(name))
        {
            r.Errors.Add(new ConfigError(r.Child("protocol"), $"unknown protocol [{name}]")
            {
                Hint = "xRPC protocols (dubbo, redis) are not available in this StreamGate version yet; remove protocol",
                Form = ConfigErrorForm.Bare,
            });
        }
    }

    /// <summary>
    /// Holds a node host to what the snapshot builder can resolve or connect to: an IP literal, or a host name of
    /// at most 255 characters whose dot-separated labels are RFC 1123's (1-63 letters, digits and hyphens, no hyphen
    /// first or last; underscores too, as DNS serves them and APISIX's host pattern allows them).
    /// </summary>
    /// <returns>Null when usable, else what is wrong.</returns>
    public static string? CheckHost(string host)
    {
        if (host.Length > MaxHostLength)
        {
            return $"a host name is at most {MaxHostLength} characters, got {host.Length}";
        }
        if (host.Contains(':', StringComparison.Ordinal))
        {
            return IsIPv6(host) ? null : $"\"{host}\" is not an IPv6 address";
        }
        var name = host.EndsWith('.') ? host[..^1] : host;
        var labels = name.Split('.');
        var numeric = true;
        foreach (var label in labels)
        {
            if (label.Length is 0 or > 63)
            {
                return $"\"{host}\" is not a host name: each dot-separated label is 1 to 63 characters";
            }
            if (label[0] == '-' || label[^1] == '-')
            {
                return $"\"{host}\" is not a host name: a label may not start or end with '-'";
            }
            foreach (var c in label)
            {
                if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
                {
                    return $"\"{host}\" is not a host name: a label holds letters, digits, '-' and '_' only";
                }
                numeric &= char.IsAsciiDigit(c);
            }
        }
        if (numeric && (labels.Length != 4 || !System.Net.IPAddress.TryParse(name, out _)))
        {
            return $"\"{host}\" is not an IPv4 address";
        }
        return null;
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
                // APISIX's plugin check, after the schema, answered bare (admin/stream_routes.lua check_conf).
                r.Errors.Add(new ConfigError(r.Child("plugins") + "." + name, $"unknown plugin [{name}]") { Form = ConfigErrorForm.Bare });
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
        var connect = t.Number("connect", 0, MaxTimeoutSeconds, exclusiveMinimum: true);
        var send = t.Number("send", 0, MaxTimeoutSeconds, exclusiveMinimum: true);
        var read = t.Number("read", 0, MaxTimeoutSeconds, exclusiveMinimum: true);
        t.Finish();
        return new TimeoutConfig(connect ?? TimeoutConfig.Default.Connect, send ?? TimeoutConfig.Default.Send, read ?? TimeoutConfig.Default.Read);
    }

    private static List<NodeConfig>? ReadNodes(JsonObjectReader r, bool checkedAsUpstream)
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
                        if (CheckHost(host) is { } hostProblem)
                        {
                            r.Errors.Add(new ConfigError($"{path}[\"{Shorten(hostPort)}\"]", $"invalid node address \"{Shorten(hostPort)}\": {Shorten(hostProblem)}"));
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
                        var host = n.String("host", 1, MaxHostLength, HostPattern());
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
                        var bracketed = host is not null && host.StartsWith('[') && host.EndsWith(']');
                        if (host is not null && !bracketed && checkedAsUpstream && IsIPv6(host))
                        {
                            // APISIX's upstream check_schema, before the JSON schema, for upstreams and services' upstreams.
                            r.Errors.Add(new ConfigError(n.Child("host"), "IPv6 address must be enclosed with '[' and ']'") { Form = ConfigErrorForm.Check });
                        }
                        else if (host is not null && (bracketed && !IsIPv6(host[1..^1]) ? $"\"{host[1..^1]}\" in brackets is not an IPv6 address" : CheckHost(bracketed ? host[1..^1] : host)) is { } hostProblem)
                        {
                            r.Errors.Add(new ConfigError(n.Child("host"), $"property \"host\" validation failed: invalid host: {Shorten(hostProblem)}"));
                        }
                        if (r.Errors.Count == before)
                        {
                            var bare = bracketed ? host![1..^1] : host!;
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

    private static bool IsIPv6(string host) =>
        System.Net.IPAddress.TryParse(host, out var address) && address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6;

    private static string Shorten(string text) => text.Length <= 80 ? text : text[..80] + "...";

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
            if (!IsIPv6(host))
            {
                return false;
            }
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
