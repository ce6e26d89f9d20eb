using System.Net;
using static StreamGate.IntegrationTests.Admin.Apisix.ApisixPort;

namespace StreamGate.IntegrationTests.Admin.Apisix;

/// <summary>
/// apache/apisix t/admin/plugin-metadata.t, plugin-metadata2.t and plugin-metadata3.t, the blocks that need no
/// plugin with metadata (StreamGate has no stream plugins yet, so every name is `invalid plugin name` on a write).
/// plugin-metadata.t TEST 6 and 7 are in AdminApisixPortTests.
/// </summary>
public sealed class PluginMetadataTests(AdminGatewayFixture fixture) : IClassFixture<AdminGatewayFixture>
{
    private AdminGateway Gateway => fixture.Gateway;

    /// <summary>plugin-metadata.t TEST 5: deleting metadata that is not there.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Plugin_metadata_t_TEST_5_delete_not_found()
    {
        var reply = await Gateway.FailsAsync(HttpMethod.Delete, "plugin_metadata/not_found", null, HttpStatusCode.NotFound);
        Assert.Equal("""{"message":"Key not found"}""", reply.Text);
    }

    /// <summary>plugin-metadata3.t TEST 1 and 3: reading metadata never stored is 404 Key not found.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Plugin_metadata3_t_TEST_1_3_get_missing_metadata()
    {
        var reply = await Gateway.FailsAsync(HttpMethod.Get, "plugin_metadata/http-logger", null, HttpStatusCode.NotFound);
        Assert.Equal("""{"message":"Key not found"}""", reply.Text);
    }

    /// <summary>plugin-metadata2.t TEST 1: the list of a new store is empty.</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Plugin_metadata2_t_TEST_1_list_empty_resources()
    {
        await using var fresh = await AdminGateway.StartAsync();
        AssertExactly("""{"list":[],"total":0}""", await fresh.PassesAsync(HttpMethod.Get, "plugin_metadata"));
    }
}
