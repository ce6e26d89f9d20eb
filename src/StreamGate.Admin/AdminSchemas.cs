using StreamGate.Config;

namespace StreamGate.Admin;

/// <summary>
/// JSON schemas served by /apisix/admin/schema/{name} (stream_route, upstream, service, ssl): the documents of
/// <see cref="ResourceSchemas"/>, built from the validator's own limits.
/// </summary>
internal static class AdminSchemas
{
    public static string? Get(string name) => ResourceSchemas.Get(name)?.ToJsonString();
}
