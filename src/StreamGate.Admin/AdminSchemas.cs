using StreamGate.Config;

namespace StreamGate.Admin;

/// <summary>
/// The schemas the admin API serves: /schema/{name} (stream_route, upstream, service, ssl) the resource
/// definitions of <see cref="ResourceSchemas"/>, and /plugins/{name} a stream plugin's registered schema
/// (<see cref="PluginSchemas"/>): in each case the object validation runs against.
/// </summary>
internal static class AdminSchemas
{
    public static string? Get(string name) => ResourceSchemas.Get(name)?.ToJsonString();

    public static string? Plugin(string name) => PluginSchemas.Stream.Get(name)?.ToJsonString();

    public static IReadOnlyList<string> PluginNames => PluginSchemas.Stream.Names;
}
