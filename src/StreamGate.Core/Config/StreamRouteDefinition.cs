using System.Text.Json.Nodes;
using static StreamGate.Config.CommonDefinitions;
using static StreamGate.Config.SchemaBuilder;

namespace StreamGate.Config;

/// <summary>
/// The stream route, as APISIX's schema_def.lua stream_route: the one definition validation runs against and
/// <c>/schema/stream_route</c> serves. Addresses are parsed after the schema (APISIX's stream_route_checker),
/// more strictly than APISIX's ip_def patterns, so the schema takes any string there.
/// </summary>
internal static class StreamRouteDefinition
{
    /// <summary>TLS routing fields: refused when set until the TLS data plane routes on them.</summary>
    public static readonly string[] NotYetFields = ["sni", "snis", "tls_passthrough"];

    public static JsonObject Schema { get; } = Build();

    private static JsonObject Build()
    {
        var properties = Common();
        properties["remote_addr"] = Address("client IP");
        properties["server_addr"] = Address("server IP");
        properties["server_port"] = Integer(1, 65535);
        foreach (var name in NotYetFields)
        {
            properties[name] = Described(NotYet);
        }
        properties["upstream"] = UpstreamDefinition.Build();
        properties["upstream_id"] = Id();
        properties["service_id"] = Id();
        properties["plugins"] = OfType("object");
        properties["protocol"] = new JsonObject
        {
            ["type"] = "object",
            ["description"] = "xRPC; no protocol is available in this StreamGate version yet",
            ["properties"] = new JsonObject
            {
                ["name"] = Str(),
                ["superior_id"] = Id(),
                ["conf"] = OfType("object"),
                ["logger"] = OfType("array"),
            },
            // APISIX's xrpc_protocol_schema has no additionalProperties: false.
            ["required"] = Names("name"),
        };
        return Object(properties);
    }

    private static JsonObject Address(string what) =>
        Str().With("description", $"{what}: an IPv4 or IPv6 address, optionally with a CIDR prefix (10.0.0.0/8, fe80::/10)");
}
