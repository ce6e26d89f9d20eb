using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using StreamGate.Routing;

namespace StreamGate.Config;

/// <summary>
/// Turns JSON objects (from apisix.yaml, a store or an admin request) into validated resource configs. The
/// structure is checked against the definitions (<see cref="StreamRouteDefinition"/>, <see cref="UpstreamDefinition"/>,
/// <see cref="ServiceDefinition"/>) by <see cref="SchemaValidator"/>; this class adds the second pass
/// (<see cref="SemanticPass"/>: addresses, host names, references, what this version does not serve yet) and
/// builds the models. Every error is collected with its path; the first is APISIX's answer.
/// </summary>
internal static class ResourceParser
{
    /// <inheritdoc cref="CommonDefinitions.MaxTimeoutSeconds"/>
    public const double MaxTimeoutSeconds = CommonDefinitions.MaxTimeoutSeconds;

    /// <inheritdoc cref="UpstreamDefinition.MaxHostLength"/>
    public const int MaxHostLength = UpstreamDefinition.MaxHostLength;

    public const int MaxNameLength = CommonDefinitions.MaxNameLength;

    /// <summary>xRPC protocols (APISIX's stream_route.protocol) this build serves: none yet.</summary>
    public static readonly IReadOnlySet<string> KnownProtocols = new HashSet<string>(StringComparer.Ordinal);

    private static readonly JsonObject IdOnly = SchemaBuilder.Object(new JsonObject { ["id"] = CommonDefinitions.Id() });

    /// <summary>
    /// An id alone (the admin API's body id), checked against the id definition: any failure is APISIX's one anyOf
    /// message, <c>property "id" validation failed: object matches none of the required</c> (services.t TEST 11-13),
    /// what exactly is wrong in the hint.
    /// </summary>
    public static string? ReadId(JsonObjectReader reader)
    {
        if (reader.Node("id") is not { } node)
        {
            return null;
        }
        var pass = new SemanticPass(IdOnly, new JsonObject { ["id"] = node.DeepClone() }, reader.Path, reader.Errors);
        return pass.Id("id");
    }

    /// <summary>
    /// APISIX's admin/plugin_metadata.lua check_conf for the plugin name: null when the build has the plugin,
    /// else its answer (<c>missing plugin name</c>, <c>invalid plugin name</c>), in the bare form.
    /// </summary>
    public static ConfigError? CheckPluginMetadataName(string? name) => name switch
    {
        null or "" => new ConfigError("", "missing plugin name") { Form = ConfigErrorForm.Bare },
        _ when !PluginSchemas.Stream.Contains(name) => new ConfigError("", "invalid plugin name")
        {
            Form = ConfigErrorForm.Bare,
            Hint = PluginSchemas.Stream.Count == 0 ? "this StreamGate version has no stream plugins yet" : $"stream plugins: {string.Join(", ", PluginSchemas.Stream.Names)}",
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

    public static StreamRouteConfig? ParseStreamRoute(JsonObject obj, string path, List<ConfigError> errors)
    {
        var r = new SemanticPass(StreamRouteDefinition.Schema, obj, path, errors);
        var id = r.Id("id");
        var remoteAddr = Address(r, "remote_addr");
        var serverAddr = Address(r, "server_addr");
        r.NotYet(StreamRouteDefinition.NotYetFields, "TLS routing is not available in this StreamGate version yet; remove it or route by server_port");
        // APISIX's stream_routes.lua checks an inline upstream against the schema only: a bare IPv6 host passes.
        var (upstream, upstreamId) = UpstreamTarget(r, checkedAsUpstream: false);
        var serviceId = r.Id("service_id");
        var plugins = Plugins(r);
        Protocol(r);
        if (r.Valid && !r.IsSet("upstream") && !r.IsSet("upstream_id") && !r.IsSet("service_id"))
        {
            errors.Add(new ConfigError(path, "the route has nowhere to send connections: set upstream, upstream_id or service_id"));
        }
        r.Finish();
        if (!r.Valid)
        {
            return null;
        }
        return new StreamRouteConfig
        {
            Id = id ?? "",
            Name = r.String("name"),
            Desc = r.String("desc"),
            Labels = r.Labels(),
            RemoteAddr = remoteAddr,
            ServerAddr = serverAddr,
            ServerPort = (int?)r.Integer("server_port"),
            Upstream = upstream,
            UpstreamId = upstreamId,
            ServiceId = serviceId,
            Plugins = plugins,
        };
    }

    public static ServiceConfig? ParseService(JsonObject obj, string path, List<ConfigError> errors)
    {
        var r = new SemanticPass(ServiceDefinition.Schema, obj, path, errors);
        var id = r.Id("id");
        // APISIX checks a service's inline upstream as an upstream object: bare IPv6 hosts are refused.
        var (upstream, upstreamId) = UpstreamTarget(r, checkedAsUpstream: true);
        var plugins = Plugins(r);
        r.Finish();
        if (!r.Valid)
        {
            return null;
        }
        return new ServiceConfig { Id = id ?? "", Name = r.String("name"), Desc = r.String("desc"), Labels = r.Labels(), Upstream = upstream, UpstreamId = upstreamId, Plugins = plugins };
    }

    public static UpstreamConfig? ParseUpstream(JsonObject obj, string path, List<ConfigError> errors) =>
        ParseUpstream(new SemanticPass(UpstreamDefinition.Schema, obj, path, errors), checkedAsUpstream: true);

    /// <summary>The second pass of an upstream whose schema pass <paramref name="r"/> has run (top level or inline).</summary>
    /// <param name="checkedAsUpstream">False for a stream route's inline upstream, where APISIX lets a bare IPv6 host through.</param>
    private static UpstreamConfig? ParseUpstream(SemanticPass r, bool checkedAsUpstream)
    {
        var id = r.Id("id");
        var nodes = Nodes(r, checkedAsUpstream);
        r.NotServed("type", UpstreamDefinition.Types, type => $"balancer \"{type}\" is not available in this StreamGate version yet; use roundrobin");
        r.NotServed("scheme", UpstreamDefinition.Schemes, scheme => $"scheme \"{scheme}\" is not available for stream upstreams in this StreamGate version yet; use tcp");
        r.NotYet(UpstreamDefinition.NotYetFields, "not available in this StreamGate version yet; remove it");
        r.Finish();
        if (!r.Valid || nodes is null)
        {
            return null;
        }
        var checks = r.Clean("checks") is JsonObject checksObject ? ChecksParser.Parse(checksObject) : null;
        var timeout = r.Clean("timeout") as JsonObject;
        double? Seconds(string name) => timeout?[name] is { } node && JsonObjectReader.TryGetNumber(node, out var value) ? value : null;
        return new UpstreamConfig
        {
            Id = id,
            Name = r.String("name"),
            Desc = r.String("desc"),
            Labels = r.Labels(),
            Nodes = nodes,
            Type = r.String("type") ?? "roundrobin",
            HashOn = r.String("hash_on"),
            Key = r.String("key"),
            Retries = (int?)r.Integer("retries"),
            RetryTimeout = r.Number("retry_timeout") ?? 0,
            Timeout = new TimeoutConfig(
                Seconds("connect") ?? TimeoutConfig.Default.Connect,
                Seconds("send") ?? TimeoutConfig.Default.Send,
                Seconds("read") ?? TimeoutConfig.Default.Read),
            Scheme = r.String("scheme") ?? "tcp",
            Checks = checks,
        };
    }

    /// <summary>upstream (inline) or upstream_id, never both: the target of a route or a service.</summary>
    private static (UpstreamConfig? Upstream, string? UpstreamId) UpstreamTarget(SemanticPass r, bool checkedAsUpstream)
    {
        UpstreamConfig? upstream = null;
        if (r.Clean("upstream") is JsonObject inline)
        {
            upstream = ParseUpstream(r.Inner(UpstreamDefinition.Schema, inline, "upstream"), checkedAsUpstream);
        }
        var upstreamId = r.Id("upstream_id");
        if (r.Raw("upstream") is JsonObject && upstreamId is not null)
        {
            r.Errors.Add(new ConfigError(r.Path, "set either upstream or upstream_id, not both"));
        }
        return (upstream, upstreamId);
    }

    private static string? Address(SemanticPass r, string name)
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

    private static JsonObject? Plugins(SemanticPass r)
    {
        if (r.Clean("plugins") is not JsonObject plugins)
        {
            return null;
        }
        PluginSchemas.Stream.Check(plugins, r.Child("plugins"), r.Errors);
        return plugins;
    }

    /// <summary>protocol (APISIX's xRPC): once its schema holds, the name must be a protocol this build serves (xrpc.check_schema).</summary>
    private static void Protocol(SemanticPass r)
    {
        if (r.Clean("protocol") is JsonObject protocol && protocol["name"]?.GetValue<string>() is { } name && !KnownProtocols.Contains(name))
        {
            r.Errors.Add(new ConfigError(r.Child("protocol"), $"unknown protocol [{name}]")
            {
                Hint = "xRPC protocols (dubbo, redis) are not available in this StreamGate version yet; remove protocol",
                Form = ConfigErrorForm.Bare,
            });
        }
    }

    /// <summary>The nodes, once the schema holds for them: map keys parsed as host:port, hosts held to what the builder can use.</summary>
    private static List<NodeConfig>? Nodes(SemanticPass r, bool checkedAsUpstream)
    {
        var path = r.Child("nodes");
        var nodes = new List<NodeConfig>();
        switch (r.Clean("nodes"))
        {
            case JsonObject map:
                foreach (var (hostPort, weight) in map)
                {
                    if (!TryParseHostPort(hostPort, out var host, out var port))
                    {
                        r.Errors.Add(new ConfigError($"{path}[\"{hostPort}\"]", $"invalid node address \"{hostPort}\"; write host:port, with IPv6 in brackets ([::1]:6379)"));
                    }
                    else if (CheckHost(host) is { } hostProblem)
                    {
                        r.Errors.Add(new ConfigError($"{path}[\"{Shorten(hostPort)}\"]", $"invalid node address \"{Shorten(hostPort)}\": {Shorten(hostProblem)}"));
                    }
                    else
                    {
                        JsonObjectReader.TryGetInteger(weight!, out var w);
                        nodes.Add(new NodeConfig(host, port, (int)w, 0));
                    }
                }
                return nodes;
            case JsonArray array:
                for (var i = 0; i < array.Count; i++)
                {
                    var item = array[i]!.AsObject();
                    var host = item["host"]!.GetValue<string>();
                    var hostPath = $"{path}[{i}].host";
                    var bracketed = host.StartsWith('[') && host.EndsWith(']');
                    if (!bracketed && checkedAsUpstream && IsIPv6(host))
                    {
                        // APISIX's upstream check_schema, for upstreams and services' upstreams.
                        r.Errors.Add(new ConfigError(hostPath, "IPv6 address must be enclosed with '[' and ']'") { Form = ConfigErrorForm.Check });
                        continue;
                    }
                    var bare = bracketed ? host[1..^1] : host;
                    if ((bracketed && !IsIPv6(bare) ? $"\"{bare}\" in brackets is not an IPv6 address" : CheckHost(bare)) is { } hostProblem)
                    {
                        r.Errors.Add(new ConfigError(hostPath, $"property \"host\" validation failed: invalid host: {Shorten(hostProblem)}"));
                        continue;
                    }
                    JsonObjectReader.TryGetInteger(item["port"]!, out var port);
                    JsonObjectReader.TryGetInteger(item["weight"]!, out var weight);
                    var priority = item["priority"] is { } p && JsonObjectReader.TryGetInteger(p, out var pr) ? pr : 0;
                    nodes.Add(new NodeConfig(bare, (int)port, (int)weight, (int)priority));
                }
                return nodes;
            default:
                return null;
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
        return host.Length > 0 && SchemaValidator.Pattern(CommonDefinitions.HostPattern).IsMatch(host) &&
            int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) && port is >= 1 and <= 65535;
    }
}
