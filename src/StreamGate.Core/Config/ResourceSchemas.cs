using System.Text.Json.Nodes;

namespace StreamGate.Config;

/// <summary>
/// The resource definitions by the name <c>/apisix/admin/schema/{name}</c> serves them: the very objects the
/// parsers validate against (<see cref="StreamRouteDefinition"/>, <see cref="UpstreamDefinition"/>,
/// <see cref="ServiceDefinition"/>, <see cref="SslDefinition"/>), so what is served cannot drift from what is checked.
/// </summary>
internal static class ResourceSchemas
{
    public static JsonObject? Get(string name) => name switch
    {
        "stream_route" => StreamRouteDefinition.Schema,
        "upstream" => UpstreamDefinition.Schema,
        "service" => ServiceDefinition.Schema,
        "ssl" => SslDefinition.Schema,
        _ => null,
    };

    public static IReadOnlyList<string> Names { get; } = ["stream_route", "upstream", "service", "ssl"];
}
