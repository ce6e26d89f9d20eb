using System.Text.Json.Nodes;
using static StreamGate.Config.CommonDefinitions;
using static StreamGate.Config.SchemaBuilder;

namespace StreamGate.Config;

/// <summary>
/// The upstream, as APISIX's schema_def.lua upstream_schema: the one definition that validation runs against
/// (<see cref="SchemaValidator"/>) and <c>/schema/upstream</c> serves. A field is added here (and in
/// <see cref="UpstreamConfig"/> and <see cref="ResourceParser"/> when the data plane uses it).
/// </summary>
/// <remarks>Property order is the order errors are listed in.</remarks>
internal static class UpstreamDefinition
{
    /// <summary>The balancers APISIX's schema names; StreamGate serves <see cref="ServedTypes"/> of them, and says so of the rest.</summary>
    public static readonly string[] Types = ["roundrobin", "chash", "least_conn", "ewma"];

    public static readonly string[] ServedTypes = ["roundrobin"];

    /// <summary>APISIX's upstream schemes; StreamGate serves tcp for now.</summary>
    public static readonly string[] Schemes = ["tcp", "tls", "udp", "grpc", "grpcs", "http", "https", "kafka"];

    public static readonly string[] ServedSchemes = ["tcp"];

    public static readonly string[] HashOnValues = ["vars", "header", "cookie", "consumer", "vars_combinations"];

    /// <summary>Fields APISIX has that come with later features: refused when set.</summary>
    public static readonly string[] NotYetFields = ["checks", "tls", "discovery_type", "service_name", "discovery_args"];

    /// <summary>The longest node host name (RFC 1123 names are at most 255 octets).</summary>
    public const int MaxHostLength = 255;

    /// <summary>The served and validating schema of an upstream object.</summary>
    public static JsonObject Schema { get; } = Build();

    /// <summary>A new copy, for the places an upstream is inline (stream_route.upstream, service.upstream).</summary>
    public static JsonObject Build()
    {
        var properties = Common();
        properties["nodes"] = Nodes();
        properties["type"] = Enum(ServedTypes, "roundrobin");
        properties["hash_on"] = Enum(HashOnValues, "vars");
        properties["key"] = Str();
        properties["retries"] = Integer(0, 65535);
        properties["retry_timeout"] = Seconds(exclusiveMinimum: false);
        properties["timeout"] = Object(new JsonObject
        {
            ["connect"] = Seconds(exclusiveMinimum: true),
            ["send"] = Seconds(exclusiveMinimum: true),
            ["read"] = Seconds(exclusiveMinimum: true),
        });
        properties["scheme"] = Enum(ServedSchemes, "tcp");
        foreach (var name in (ReadOnlySpan<string>)["pass_host", "upstream_host", "keepalive_pool"])
        {
            properties[name] = Described(Ignored);
        }
        foreach (var name in NotYetFields)
        {
            properties[name] = Described(NotYet);
        }
        return Object(properties, "nodes");
    }

    /// <summary>
    /// nodes: <c>{"host:port": weight}</c> or <c>[{host, port, weight, priority, metadata}]</c>. A failure answers
    /// APISIX's one anyOf message (upstream.t TEST 14, 15; upstream-array-nodes.t TEST 10 to 13), with which node is
    /// wrong and why in the hint; the map's keys are parsed after the schema, in the parser.
    /// </summary>
    private static JsonObject Nodes()
    {
        var weight = Integer(0, int.MaxValue).With(SchemaValidator.Message, "the weight must be an integer of at least 0");
        var host = Str(1, MaxHostLength, HostPattern).With("description", "an IP address (IPv6 in brackets) or an RFC 1123 host name");
        return new JsonObject
        {
            ["anyOf"] = new JsonArray(
                new JsonObject
                {
                    ["type"] = "object",
                    ["description"] = "\"host:port\": weight, IPv6 as \"[::1]:6379\"",
                    ["patternProperties"] = new JsonObject { [".*"] = weight },
                },
                new JsonObject
                {
                    ["type"] = "array",
                    ["items"] = Object(
                        new JsonObject
                        {
                            ["host"] = host,
                            // ours: required, a stream upstream node has no scheme default port.
                            ["port"] = Integer(1, 65535),
                            ["weight"] = Integer(0, int.MaxValue),
                            ["priority"] = Integer(int.MinValue, int.MaxValue).With("default", 0),
                            ["metadata"] = OfType("object"),
                        },
                        "host", "port", "weight"),
                }),
        };
    }
}
