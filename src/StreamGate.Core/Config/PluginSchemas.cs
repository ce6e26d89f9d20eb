using System.Collections.Concurrent;
using System.Text.Json.Nodes;

namespace StreamGate.Config;

/// <summary>
/// The stream plugins this build has and their configuration schemas: the seam a plugin registers in (its
/// schema_def, as an APISIX plugin's <c>_M.schema</c>). The same object validates a route's or service's
/// <c>plugins.{name}</c> and is what <c>/apisix/admin/plugins/{name}?subsystem=stream</c> serves.
/// </summary>
/// <remarks>No plugin is registered yet; a later issue adds ip-restriction, limit-conn, mqtt-proxy and the rest.</remarks>
internal sealed class PluginSchemas
{
    private readonly ConcurrentDictionary<string, JsonObject> _schemas = new(StringComparer.Ordinal);

    /// <summary>The registry the parsers and the admin API use.</summary>
    public static PluginSchemas Stream { get; } = new();

    /// <summary>Adds a plugin; its name is unique, as in APISIX's plugin list.</summary>
    public void Register(string name, JsonObject schema)
    {
        if (!_schemas.TryAdd(name, schema))
        {
            throw new InvalidOperationException($"stream plugin \"{name}\" is registered twice");
        }
    }

    public JsonObject? Get(string name) => _schemas.GetValueOrDefault(name);

    public bool Contains(string name) => _schemas.ContainsKey(name);

    public int Count => _schemas.Count;

    /// <summary>The names in ordinal order, as /plugins/list answers them.</summary>
    public IReadOnlyList<string> Names => [.. _schemas.Keys.Order(StringComparer.Ordinal)];

    /// <summary>
    /// Checks a <c>plugins</c> object as APISIX's check_conf does after the schema: an unknown name is
    /// <c>unknown plugin [x]</c>; a known one's configuration is checked against its schema and a failure is
    /// <c>failed to check the configuration of stream plugin [x]: ...</c>, both answered bare.
    /// </summary>
    public void Check(JsonObject plugins, string path, List<ConfigError> errors)
    {
        foreach (var (name, conf) in plugins)
        {
            var pluginPath = $"{path}.{name}";
            if (Get(name) is not { } schema)
            {
                errors.Add(new ConfigError(pluginPath, $"unknown plugin [{name}]") { Form = ConfigErrorForm.Bare });
                continue;
            }
            var problems = new List<ConfigError>();
            if (!SchemaValidator.Validate(schema, conf, "", problems))
            {
                var first = problems[0];
                errors.Add(new ConfigError(pluginPath, $"failed to check the configuration of stream plugin [{name}]: {ConfigErrorText.Nest(first)}")
                {
                    Hint = first.Hint,
                    Form = ConfigErrorForm.Bare,
                });
            }
        }
    }
}
