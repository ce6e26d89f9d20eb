using System.Text.Json.Nodes;
using static StreamGate.Config.CommonDefinitions;
using static StreamGate.Config.SchemaBuilder;

namespace StreamGate.Config;

/// <summary>The service, as APISIX's schema_def.lua service: validated against and served by <c>/schema/service</c>.</summary>
internal static class ServiceDefinition
{
    public static JsonObject Schema { get; } = Build();

    private static JsonObject Build()
    {
        var properties = Common();
        // ours: a service's type is stream; this gateway serves L4 only, so nothing else is accepted.
        properties["type"] = Enum(["stream"]);
        properties["upstream"] = UpstreamDefinition.Build();
        properties["upstream_id"] = Id();
        properties["plugins"] = OfType("object");
        return Object(properties);
    }
}
