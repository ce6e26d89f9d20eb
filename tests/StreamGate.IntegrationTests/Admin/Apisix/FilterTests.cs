using System.Net;
using static StreamGate.IntegrationTests.Admin.Apisix.ApisixPort;

namespace StreamGate.IntegrationTests.Admin.Apisix;

/// <summary>
/// apache/apisix t/admin/filter.t: paging and the name and label filters, on services and stream routes (APISIX's
/// HTTP-route blocks run here on stream routes, which the same code lists). TEST 18 (?filter= on stream routes)
/// is in AdminApisixPortTests.
/// </summary>
public sealed class FilterTests(AdminGatewayFixture fixture) : IClassFixture<AdminGatewayFixture>
{
    private AdminGateway Gateway => fixture.Gateway;

    private static int Count(AdminResponse list) => list.Body!["list"]!.AsArray().Count;

    private static string[] Names(AdminResponse list) => [.. list.Body!["list"]!.AsArray().Select(i => i!["value"]!["name"]!.GetValue<string>())];

    private async Task ElevenStreamRoutesAsync()
    {
        for (var i = 1; i <= 11; i++)
        {
            await Gateway.PassesAsync(HttpMethod.Put, $"stream_routes/{i}", $$"""{"upstream": {"nodes": {"127.0.0.1:1980": 1}, "type": "roundrobin"}, "server_port": {{5000 + i}}, "name": "{{i}}"}""");
        }
    }

    /// <summary>
    /// TEST 1 (page_size 2: APISIX's plain-text 400), TEST 2 (page -1 is page 1), TEST 3 (a page is in
    /// createdIndex order), TEST 4 and 16 (pages of 10, 1, 0; total is all), TEST 15 (total, and `label=` matches
    /// nothing), on stream routes.
    /// </summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Filter_t_TEST_1_to_4_15_16_paging_stream_routes()
    {
        await ElevenStreamRoutesAsync();
        var bad = await Gateway.FailsAsync(HttpMethod.Get, "stream_routes/?page=1&page_size=2", null, HttpStatusCode.BadRequest);
        Assert.Equal("page_size must be between 10 and 500", bad.Text);

        Assert.Equal(10, Count(await Gateway.PassesAsync(HttpMethod.Get, "stream_routes/?page=-1&page_size=10")));

        var first = await Gateway.PassesAsync(HttpMethod.Get, "stream_routes/?page=1&page_size=10");
        var indexes = first.Body!["list"]!.AsArray().Select(i => i!["createdIndex"]!.GetValue<long>()).ToList();
        Assert.Equal(indexes.Order(), indexes);
        Assert.Equal(["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"], Names(first));
        Assert.Equal(11, first.Body["total"]!.GetValue<int>());
        var second = await Gateway.PassesAsync(HttpMethod.Get, "stream_routes/?page=2&page_size=10");
        Assert.Equal(["11"], Names(second));
        Assert.Equal(0, Count(await Gateway.PassesAsync(HttpMethod.Get, "stream_routes/?page=3&page_size=10")));
        var tenth = await Gateway.PassesAsync(HttpMethod.Get, "stream_routes?page=10&page_size=10");
        Assert.Equal(11, tenth.Body!["total"]!.GetValue<int>());
        Assert.Equal(0, Count(tenth));

        var all = await Gateway.PassesAsync(HttpMethod.Get, "stream_routes");
        Assert.Equal(11, all.Body!["total"]!.GetValue<int>());
        Assert.Equal(11, Count(all));
        AssertExactly("""{"list":[],"total":0}""", await Gateway.PassesAsync(HttpMethod.Get, "stream_routes/?label="));
    }

    /// <summary>TEST 5 (services pagination), TEST 6 (name and labels: a label's key only), TEST 7 and 8 (name=1 finds 1, 10, 11), TEST 9 (filter, then page).</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Filter_t_TEST_5_to_9_services()
    {
        for (var i = 1; i <= 11; i++)
        {
            await Gateway.PassesAsync(HttpMethod.Put, $"services/{i}", $$$"""{"upstream": {"nodes": {"127.0.0.1:1980": 1}, "type": "roundrobin"}, "name": "{{{i}}}", "labels": {"{{{i}}}": "{{{i}}}"}}""");
        }
        Assert.Equal(10, Count(await Gateway.PassesAsync(HttpMethod.Get, "services/?page=1&page_size=10")));
        Assert.Equal(1, Count(await Gateway.PassesAsync(HttpMethod.Get, "services/?page=2&page_size=10")));
        Assert.Equal(0, Count(await Gateway.PassesAsync(HttpMethod.Get, "services/?page=3&page_size=10")));

        Assert.Equal(["1", "10", "11"], Names(await Gateway.PassesAsync(HttpMethod.Get, "services/?name=1")).Order());
        var label = await Gateway.PassesAsync(HttpMethod.Get, "services/?label=1");
        Assert.Equal("1", Assert.Single(label.Body!["list"]!.AsArray())!["value"]!["id"]!.GetValue<string>());
        Assert.Equal(["1", "10", "11"], Names(await Gateway.PassesAsync(HttpMethod.Get, "services/?name=1&page=1&page_size=10")).Order());
    }

    /// <summary>TEST 11: a label's key matches, its value does not (stream routes here, HTTP routes there).</summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Filter_t_TEST_11_labels_match_keys_only()
    {
        await Gateway.PassesAsync(HttpMethod.Put, "stream_routes/l1", """{"upstream": {"nodes": {"127.0.0.1:1980": 1}, "type": "roundrobin"}, "labels": {"env": "production"}}""");
        await Gateway.PassesAsync(HttpMethod.Put, "stream_routes/l2", """{"upstream": {"nodes": {"127.0.0.1:1980": 1}, "type": "roundrobin"}, "labels": {"env2": "production"}}""");
        var env = await Gateway.PassesAsync(HttpMethod.Get, "stream_routes/?label=env");
        Assert.Equal("l1", Assert.Single(env.Body!["list"]!.AsArray())!["value"]!["id"]!.GetValue<string>());
        Assert.Equal(0, Count(await Gateway.PassesAsync(HttpMethod.Get, "stream_routes/?label=production")));
        Assert.Equal(0, Count(await Gateway.PassesAsync(HttpMethod.Get, "stream_routes/?label=env:production")));
        await Gateway.PassesAsync(HttpMethod.Delete, "stream_routes/l1");
        await Gateway.PassesAsync(HttpMethod.Delete, "stream_routes/l2");
    }
}
