using System.Text.Json.Nodes;
using StreamGate.Config;

namespace StreamGate.Stores;

/// <summary>
/// Imports a standalone-format file (apisix.yaml) into an empty store: upstreams, then services, then routes,
/// in file order, each with create_time/update_time as the admin API writes them. The file is read as the
/// standalone reader reads apisix.yaml (<see cref="ReadSeedText"/>) and validated whole first; an invalid file
/// imports nothing.
/// </summary>
internal static class StoreSeeder
{
    public static async Task<int> SeedAsync(IConfigStore store, string prefix, string path, TimeProvider time)
    {
        var text = ReadSeedText(path);
        StandaloneFile.Parse(text);
        if (YamlDocument.Parse(text, StandaloneFile.FileName) is not JsonObject top)
        {
            return 0;
        }
        var now = time.GetUtcNow().ToUnixTimeSeconds();
        var written = 0;
        foreach (var collection in (string[])["upstreams", "services", "stream_routes"])
        {
            if (top[collection] is not JsonArray items)
            {
                continue;
            }
            foreach (var item in items.OfType<JsonObject>())
            {
                var value = (JsonObject)item.DeepClone();
                var id = value["id"]!.ToString();
                value["id"] = id;
                value["create_time"] = now;
                value["update_time"] = now;
                await store.PutAsync($"{prefix}/{collection}/{id}", value.ToJsonString(), expectedModRevision: 0).ConfigureAwait(false);
                written++;
            }
        }
        return written;
    }

    /// <summary>
    /// The seed file's text with the standalone reader's caps: at most <see cref="StandaloneFile.MaxBytes"/> (not read
    /// past it), strict UTF-8; YAML nesting and alias caps follow in <see cref="YamlDocument.Parse"/>. Every failure is
    /// a <see cref="ConfigException"/> naming deployment.sqlite.seed and the file.
    /// </summary>
    internal static string ReadSeedText(string path)
    {
        try
        {
            return StandaloneFile.Decode(StandaloneFile.ReadBytes(path));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ConfigException(SeedKey, $"cannot read {path}: {e.Message}");
        }
        catch (ConfigException e)
        {
            throw new ConfigException(SeedKey, $"{path}: {e.Errors[0].Message}");
        }
    }

    private const string SeedKey = "deployment.sqlite.seed";
}
