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

    /// <summary>All four (beyond: APISIX's ewma does not work in stream).</summary>
    public static readonly string[] ServedTypes = Types;

    /// <summary>APISIX's upstream schemes; StreamGate serves tcp for now.</summary>
    public static readonly string[] Schemes = ["tcp", "tls", "udp", "grpc", "grpcs", "http", "https", "kafka"];

    public static readonly string[] ServedSchemes = ["tcp"];

    public static readonly string[] HashOnValues = ["vars", "header", "cookie", "consumer", "vars_combinations"];

    /// <summary>
    /// The connection variables a chash upstream hashes on (<c>hash_on: vars</c>, and the <c>$name</c>s of
    /// <c>vars_combinations</c>). APISIX's key pattern (<see cref="HashVarsPattern"/>) also lets through HTTP
    /// variables (uri, host, arg_*, ...), which have no value on a stream connection, so APISIX hashes such a
    /// connection on remote_addr; StreamGate refuses them, and takes server_port, which APISIX's pattern lacks.
    /// </summary>
    public static readonly string[] StreamHashKeys = ["remote_addr", "remote_port", "server_addr", "server_port", "mqtt_client_id"];

    /// <summary>APISIX's upstream_hash_vars_schema pattern (schema_def.lua), checked by check_upstream_conf for <c>hash_on: vars</c>.</summary>
    public const string HashVarsPattern = "^((uri|server_name|server_addr|request_uri|remote_port|remote_addr|query_string|host|hostname|mqtt_client_id)|arg_[0-9a-zA-z_-]+)$";

    /// <summary>APISIX's upstream_hash_header_schema pattern, for <c>hash_on: header</c> and <c>cookie</c>.</summary>
    public const string HashHeaderPattern = "^[a-zA-Z0-9-_]+$";

    /// <summary>Fields APISIX has that come with later features: refused when set.</summary>
    public static readonly string[] NotYetFields = ["tls", "discovery_type", "service_name", "discovery_args"];

    /// <summary>Ours: the longest <c>checks.active.send</c> and <c>expect</c>, in characters.</summary>
    public const int MaxProbeLength = 4096;

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
        properties["key"] = Str().With("description", "the key of chash for dynamic load balancing; with hash_on vars one of " + string.Join(", ", StreamHashKeys));
        properties["retries"] = Integer(0, 65535);
        properties["retry_timeout"] = Seconds(exclusiveMinimum: false);
        properties["timeout"] = Object(new JsonObject
        {
            ["connect"] = Seconds(exclusiveMinimum: true),
            ["send"] = Seconds(exclusiveMinimum: true),
            ["read"] = Seconds(exclusiveMinimum: true),
        });
        properties["scheme"] = Enum(ServedSchemes, "tcp");
        properties["checks"] = HealthChecker();
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

    /// <summary>
    /// checks: APISIX's health_checker (schema_def.lua), its types, limits and defaults as they are. As there, the
    /// objects are open (no additionalProperties: false) and the anyOf's failure reads api7's
    /// <c>object matches none of the required: ["active"] or ["passive"]</c>. Beyond APISIX, whose second branch is
    /// <c>["active","passive"]</c> (so passive alone is refused), passive checks may stand alone; an empty checks is
    /// still refused.
    /// </summary>
    private static JsonObject HealthChecker() => new()
    {
        ["type"] = "object",
        ["description"] = "health checks: active, passive or both (beyond APISIX, which requires active: passive checks may stand alone)",
        ["properties"] = new JsonObject
        {
            ["active"] = ActiveChecks(),
            ["passive"] = PassiveChecks(),
        },
        ["anyOf"] = new JsonArray(
            new JsonObject { ["required"] = Names("active") },
            new JsonObject { ["required"] = Names("passive") }),
    };

    /// <summary>APISIX's health_checker_active, with our send and expect for tcp probes.</summary>
    private static JsonObject ActiveChecks()
    {
        var probe = $"; beyond APISIX: 1-{MaxProbeLength} characters, for type tcp only";
        return Open(new JsonObject
        {
            ["type"] = Enum(["http", "https", "tcp"], "http"),
            ["timeout"] = OfType("number").With("default", 1),
            ["concurrency"] = OfType("integer").With("default", 10),
            ["host"] = Str(pattern: HostPattern),
            ["port"] = Integer(1, 65535),
            // APISIX 3.18 (#13726); StreamGate's probes do not read them yet.
            ["http_method"] = Enum(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "CONNECT", "TRACE", "PURGE"], "GET"),
            ["http_path"] = Str().With("default", "/"),
            ["http_req_body"] = Str().With("default", ""),
            ["https_verify_certificate"] = OfType("boolean").With("default", true),
            ["healthy"] = Open(new JsonObject
            {
                ["interval"] = Integer(1).With("default", 1),
                ["http_statuses"] = Statuses(200, 302),
                ["successes"] = Integer(1, 254).With("default", 2),
            }),
            ["unhealthy"] = Open(new JsonObject
            {
                ["interval"] = Integer(1).With("default", 1),
                ["http_statuses"] = Statuses(429, 404, 500, 501, 502, 503, 504, 505),
                ["http_failures"] = Integer(1, 254).With("default", 5),
                ["tcp_failures"] = Integer(1, 254).With("default", 2),
                ["timeouts"] = Integer(1, 254).With("default", 3),
            }),
            ["req_headers"] = new JsonObject
            {
                ["type"] = "array",
                ["minItems"] = 1,
                // APISIX puts uniqueItems on the item, where it checks nothing; as there.
                ["items"] = Str().With("uniqueItems", true),
            },
            ["send"] = Str(1, MaxProbeLength).With("description", "sent once connected" + probe),
            ["expect"] = Str(1, MaxProbeLength).With("description", "the reply must contain it; without send, the server speaks first" + probe),
        });
    }

    /// <summary>APISIX's health_checker_passive (its minimums of 0 disable a counter), with our recover_after.</summary>
    private static JsonObject PassiveChecks() => Open(new JsonObject
    {
        ["type"] = Enum(["http", "https", "tcp"], "http"),
        ["healthy"] = Open(new JsonObject
        {
            ["http_statuses"] = Statuses(200, 201, 202, 203, 204, 205, 206, 207, 208, 226, 300, 301, 302, 303, 304, 305, 306, 307, 308),
            ["successes"] = Integer(0, 254).With("default", 5),
        }),
        ["unhealthy"] = Open(new JsonObject
        {
            ["http_statuses"] = Statuses(429, 500, 503),
            ["tcp_failures"] = Integer(0, 254).With("default", 2),
            ["timeouts"] = Integer(0, 254).With("default", 7),
            ["http_failures"] = Integer(0, 254).With("default", 5),
            ["recover_after"] = Seconds(exclusiveMinimum: true).With("default", 10).With("description",
                "beyond APISIX: seconds after which a node passive checks marked unhealthy gets traffic again when no active checks run (nginx's fail_timeout)"),
        }),
    });

    /// <summary>An object whose other properties pass unchecked, as APISIX's health checker objects are.</summary>
    private static JsonObject Open(JsonObject properties) => new() { ["type"] = "object", ["properties"] = properties };

    private static JsonObject Statuses(params int[] defaults) => new()
    {
        ["type"] = "array",
        ["minItems"] = 1,
        ["items"] = Integer(200, 599),
        ["uniqueItems"] = true,
        ["default"] = new JsonArray([.. defaults.Select(d => (JsonNode)d)]),
    };
}
