using System.Text.Json.Nodes;
using StreamGate.Config;

namespace StreamGate.Stores;

/// <summary>
/// Imports a standalone-format file (apisix.yaml) into an empty store: upstreams, then services, then routes,
/// in file order, each with create_time/update_time as the admin API writes them. The file is validated whole
/// first; an invalid file imports nothing.
/// </summary>
internal static class StoreSeeder
{
    public static async Task<int> SeedAsync(IConfigStore store, string prefix, string path, TimeProvider time)
    {
        var text = await File.ReadAllTextAsync(path).ConfigureAwait(false);
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
}
