using System.Text.Json.Nodes;

namespace StreamGate.Config;

/// <summary>
/// The standalone configuration file, apisix.yaml beside config.yaml (APISIX's data_plane + yaml provider).
/// A file must end with a line <c>#END</c>: a writer that has not finished yet leaves a file without it,
/// and such a file is refused rather than half-applied.
/// </summary>
internal static class StandaloneFile
{
    public const string FileName = "apisix.yaml";

    private static readonly string[] TopLevel = ["stream_routes", "upstreams", "services", "ssls", "plugin_metadata", "routes", "plugins", "stream_plugins", "global_rules", "consumers", "plugin_configs", "protos", "secrets", "consumer_groups"];

    public static bool HasEndMarker(string text)
    {
        var trimmed = text.AsSpan().TrimEnd();
        var lastLineStart = trimmed.LastIndexOf('\n') + 1;
        return trimmed[lastLineStart..].Trim().SequenceEqual("#END");
    }

    public static ConfigSet Parse(string text)
    {
        if (!HasEndMarker(text))
        {
            throw new ConfigException(FileName, "the file does not end with the line #END; a half-written file is not applied (add #END as the last line once the file is complete)");
        }
        var root = YamlDocument.Parse(text, FileName);
        if (root is null)
        {
            return ConfigSet.Empty;
        }
        if (root is not JsonObject top)
        {
            throw new ConfigException(FileName, "the top level must be a mapping with stream_routes, upstreams and services");
        }
        var errors = new List<ConfigError>();
        foreach (var (key, _) in top)
        {
            if (Array.IndexOf(TopLevel, key) < 0)
            {
                errors.Add(new ConfigError(key, $"unknown top-level key \"{key}\"; expected one of stream_routes, upstreams, services, ssls, plugin_metadata"));
            }
        }
        foreach (var later in (ReadOnlySpan<string>)["ssls", "plugin_metadata"])
        {
            if (top[later] is JsonArray { Count: > 0 })
            {
                errors.Add(new ConfigError(later, "not available in this StreamGate version yet; remove it"));
            }
        }
        var upstreams = ReadList(top, "upstreams", errors, ResourceParser.ParseUpstream, u => u.Id);
        var services = ReadList(top, "services", errors, ResourceParser.ParseService, s => s.Id);
        var routes = ReadList(top, "stream_routes", errors, ResourceParser.ParseStreamRoute, r => r.Id);
        if (errors.Count > 0)
        {
            throw new ConfigException(errors);
        }
        return new ConfigSet(
            routes,
            upstreams.ToDictionary(u => u.Id!, StringComparer.Ordinal),
            services.ToDictionary(s => s.Id, StringComparer.Ordinal));
    }

    private static List<T> ReadList<T>(JsonObject top, string key, List<ConfigError> errors, Func<JsonObject, string, List<ConfigError>, T?> parse, Func<T, string?> id)
        where T : class
    {
        var result = new List<T>();
        switch (top[key])
        {
            case null:
                return result;
            case JsonArray array:
                var seen = new HashSet<string>(StringComparer.Ordinal);
                for (var i = 0; i < array.Count; i++)
                {
                    var path = $"{key}[{i}]";
                    if (array[i] is not JsonObject item)
                    {
                        errors.Add(new ConfigError(path, $"wrong type: expected object, got {JsonObjectReader.Describe(array[i])}"));
                        continue;
                    }
                    if (item["id"] is null)
                    {
                        errors.Add(new ConfigError(path, "property \"id\" is required in the standalone file"));
                        continue;
                    }
                    var parsed = parse(item, path, errors);
                    if (parsed is null)
                    {
                        continue;
                    }
                    if (!seen.Add(id(parsed)!))
                    {
                        errors.Add(new ConfigError(path + ".id", $"duplicate id \"{id(parsed)}\" in {key}"));
                        continue;
                    }
                    result.Add(parsed);
                }
                return result;
            default:
                errors.Add(new ConfigError(key, $"wrong type: expected array, got {JsonObjectReader.Describe(top[key])}"));
                return result;
        }
    }
}
