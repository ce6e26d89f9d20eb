using StreamGate.Config;

namespace StreamGate.Tests.Config;

/// <summary>
/// Issue 7, fault 4: an admin API never runs without a key by accident. An empty key used to be dropped silently,
/// which turned authentication off. The messages say how to set one.
/// </summary>
public class AdminKeyConfigTests
{
    private static string Traditional(string admin) => $"deployment:\n  role: traditional\n  admin:\n{admin}";

    private static GatewayConfig Parse(string yaml) => GatewayConfigLoader.Parse(yaml, "/etc/streamgate/config.yaml");

    [Theory]
    [InlineData("    admin_listen: {ip: 127.0.0.1, port: 9180}\n")]
    [InlineData("    admin_key: []\n")]
    public void No_key_on_loopback_is_refused_with_how_to_set_one(string admin)
    {
        var error = ConfigAssert.Single(ConfigAssert.Throws(() => Parse(Traditional(admin))), "deployment.admin.admin_key", "would run without a key");
        Assert.Contains("set deployment.admin.admin_key to [{name: admin, key: <a long random secret>, role: admin}]", error.Message, StringComparison.Ordinal);
        Assert.Contains("openssl rand -hex 16", error.Message, StringComparison.Ordinal);
        Assert.Contains("admin_key_required: false", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{name: admin, key: \"\", role: admin}")]
    [InlineData("{name: admin, role: admin}")]
    public void An_empty_key_is_refused_even_beside_a_good_one(string entry)
    {
        var yaml = Traditional($"    admin_key:\n      - {{name: viewer, key: a-long-viewer-secret, role: viewer}}\n      - {entry}\n");
        var error = ConfigAssert.Single(ConfigAssert.Throws(() => Parse(yaml)), "deployment.admin.admin_key[1].key", "the key of \"admin\" is empty, which would let anyone in");
        Assert.Contains("openssl rand -hex 16", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Admin_key_required_false_runs_without_keys_and_says_so()
    {
        var config = Parse(Traditional("    admin_key_required: false\n    admin_key: [{name: admin, key: ignored-when-not-required, role: admin}]\n"));
        Assert.Empty(config.Admin.Keys);
        Assert.Contains(config.Warnings, w => w.Contains("runs without authentication (deployment.admin.admin_key_required: false)", StringComparison.Ordinal));
    }

    [Fact]
    public void Admin_key_required_false_accepts_apisix_default_empty_key()
    {
        // APISIX's config-default.yaml ships admin_key: [{name: admin, key: '', role: admin}]; with the opt-out it is unused.
        var config = Parse(Traditional("    admin_key_required: false\n    admin_key: [{name: admin, key: '', role: admin}]\n"));
        Assert.Empty(config.Admin.Keys);
        Assert.Contains(config.Warnings, w => w.Contains("runs without authentication", StringComparison.Ordinal));
    }

    [Fact]
    public void Admin_key_required_false_is_refused_beyond_loopback()
    {
        var yaml = Traditional("    admin_key_required: false\n    admin_listen: {ip: 0.0.0.0, port: 9180}\n    allow_admin: [0.0.0.0/0]\n");
        ConfigAssert.Single(ConfigAssert.Throws(() => Parse(yaml)), "deployment.admin.admin_key", "beyond loopback, without a key");
    }

    [Fact]
    public void A_data_plane_needs_no_key()
    {
        var config = Parse("deployment:\n  role: data_plane\n  role_data_plane: {config_provider: yaml}\n");
        Assert.Empty(config.Admin.Keys);
        Assert.False(config.AdminEnabled);
    }
}
