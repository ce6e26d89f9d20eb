using System.Text.Json.Nodes;
using StreamGate.Config;

namespace StreamGate.Tests.Config;

/// <summary>The seam a stream plugin registers its schema in, on a registry of the test's own (the build's has none yet).</summary>
public class PluginSchemasTests
{
    private static PluginSchemas WithLimitConn()
    {
        var registry = new PluginSchemas();
        registry.Register("limit-conn", new JsonObject
        {
            ["type"] = "object",
            ["properties"] = new JsonObject { ["conn"] = new JsonObject { ["type"] = "integer", ["exclusiveMinimum"] = 0 } },
            ["required"] = new JsonArray("conn"),
        });
        return registry;
    }

    [Fact]
    public void A_registered_plugins_configuration_is_checked_against_its_schema()
    {
        var errors = new List<ConfigError>();
        WithLimitConn().Check(JsonNode.Parse("""{"limit-conn": {"conn": 0}}""")!.AsObject(), "plugins", errors);
        var error = Assert.Single(errors);
        Assert.Equal("plugins.limit-conn", error.Path);
        Assert.Equal("failed to check the configuration of stream plugin [limit-conn]: property \"conn\" validation failed: expected 0 to be greater than 0", error.Message);
        Assert.Equal(ConfigErrorForm.Bare, error.Form);
    }

    [Fact]
    public void Unknown_and_valid_plugins()
    {
        var errors = new List<ConfigError>();
        WithLimitConn().Check(JsonNode.Parse("""{"limit-conn": {"conn": 2}, "x": {}}""")!.AsObject(), "plugins", errors);
        Assert.Equal("unknown plugin [x]", Assert.Single(errors).Message);
    }

    [Fact]
    public void Names_are_sorted_and_registered_once()
    {
        var registry = WithLimitConn();
        registry.Register("ip-restriction", new JsonObject { ["type"] = "object" });
        Assert.Equal(["ip-restriction", "limit-conn"], registry.Names);
        Assert.Throws<InvalidOperationException>(() => registry.Register("limit-conn", new JsonObject()));
        Assert.Equal(0, PluginSchemas.Stream.Count);
    }
}
