using StreamGate.Routing;
using StreamGate.Config;
using StreamGate.Runtime;

namespace StreamGate.Tests.Runtime;

public sealed class ConfigMetricsTests
{
    [Theory]
    [InlineData("/apisix/upstreams/1", "upstreams")]
    [InlineData("/custom/prefix/stream_routes/r-1", "stream_routes")]
    [InlineData("/apisix/plugin_metadata/syslog", "plugin_metadata")]
    [InlineData("nokey", "")]
    public void Resource_of_a_key_is_the_segment_before_the_id(string key, string resource) =>
        Assert.Equal(resource, ConfigMetrics.ResourceOf(key));

    private static async Task<string> ExportAsync(ConfigMetrics metrics)
    {
        using var stream = new MemoryStream();
        await metrics.Registry.CollectAndExportAsTextAsync(stream);
        return System.Text.Encoding.UTF8.GetString(stream.ToArray());
    }

    [Fact]
    public async Task Each_applied_snapshot_sets_every_resource_count_and_refusals_add_up()
    {
        var holder = new SnapshotHolder();
        holder.Apply(new RuntimeSnapshot(RouteTable.Empty, ConfigSet.Empty, 7,
            [new SkippedObject("/apisix/upstreams/a", "x"), new SkippedObject("/apisix/upstreams/b", "y"), new SkippedObject("/apisix/ssls/1", "z")]));
        var text = await ExportAsync(holder.Metrics);
        Assert.Contains("streamgate_config_skipped_objects{resource=\"upstreams\"} 2\n", text, StringComparison.Ordinal);
        Assert.Contains("streamgate_config_skipped_objects{resource=\"ssls\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("streamgate_config_revision 7\n", text, StringComparison.Ordinal);

        // The next snapshot skips nothing: the counts go back to 0, they do not accumulate.
        holder.Reject(8, "bad");
        holder.Reject(null, "worse");
        holder.Apply(new RuntimeSnapshot(RouteTable.Empty, ConfigSet.Empty, 9));
        text = await ExportAsync(holder.Metrics);
        Assert.Contains("streamgate_config_skipped_objects{resource=\"upstreams\"} 0\n", text, StringComparison.Ordinal);
        Assert.Contains("streamgate_config_rejected_total 2\n", text, StringComparison.Ordinal);
        Assert.Contains("streamgate_config_revision 9\n", text, StringComparison.Ordinal);
    }
}
