using StreamGate.Runtime;
using StreamGate.Tests.Logging;

namespace StreamGate.Tests.Runtime;

/// <summary>
/// What a store holds never stops the gateway: a value that cannot be read or built is skipped (logged once,
/// listed in the snapshot), the rest is served, and every later write is still applied.
/// </summary>
public sealed class StoreConfigSourceTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    // The admin API stores the id inside the value, as APISIX does.
    private static string Good(string id) => "{\"id\": \"" + id + "\", \"upstream\": {\"nodes\": {\"127.0.0.1:7001\": 1}}}";

    // JsonNode.Parse accepts duplicate keys and throws (ArgumentException) when the object is first read: on main
    // this escaped the build, killed the build loop silently and crashed the next start.
    private const string DuplicateKeys = """{"id": "bad", "upstream_id": "u1", "upstream_id": "u2"}""";

    private static async Task WaitForVersionAsync(SnapshotHolder snapshots, long revision)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (snapshots.Current.Version < revision)
        {
            Assert.True(DateTime.UtcNow < deadline, $"revision {revision} not applied within {Timeout}; serving {snapshots.Current.Version}");
            await Task.Delay(10);
        }
    }

    private static string[] Served(SnapshotHolder snapshots) => [.. snapshots.Current.Routes.Routes.Select(r => r.Id)];

    [Fact]
    public async Task A_stored_value_that_throws_when_read_is_skipped_at_start_and_the_rest_is_served()
    {
        var store = new MemoryConfigStore();
        store.Put("/apisix/stream_routes/bad", DuplicateKeys);
        store.Put("/apisix/stream_routes/r1", Good("r1"));
        var snapshots = new SnapshotHolder();
        var logger = new CapturingLogger();
        await using var source = new StoreConfigSource(store, "/apisix", snapshots, logger);

        await source.LoadInitialAsync().WaitAsync(Timeout);

        Assert.Equal(["r1"], Served(snapshots));
        Assert.Equal(2, snapshots.Current.Version);
        var skipped = Assert.Single(snapshots.Current.Skipped);
        Assert.Equal("/apisix/stream_routes/bad", skipped.Key);
        Assert.StartsWith("stored value cannot be read: An item with the same key has already been added", skipped.Reason, StringComparison.Ordinal);
        var line = Assert.Single(logger.Entries, e => e.EventId == 210);
        Assert.Contains("Skipped /apisix/stream_routes/bad at revision 2: stored value cannot be read", line.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Writes_after_a_bad_object_are_still_applied_and_the_skip_is_logged_once()
    {
        var store = new MemoryConfigStore();
        var snapshots = new SnapshotHolder();
        var logger = new CapturingLogger();
        await using var source = new StoreConfigSource(store, "/apisix", snapshots, logger);
        await source.LoadInitialAsync().WaitAsync(Timeout);
        source.Start();

        store.Put("/apisix/stream_routes/bad", DuplicateKeys);
        await WaitForVersionAsync(snapshots, store.Put("/apisix/stream_routes/r1", Good("r1")));
        Assert.Equal(["r1"], Served(snapshots));
        await WaitForVersionAsync(snapshots, store.Put("/apisix/stream_routes/r2", Good("r2")));
        Assert.Equal(["r1", "r2"], Served(snapshots));
        await WaitForVersionAsync(snapshots, store.Delete("/apisix/stream_routes/r1"));
        Assert.Equal(["r2"], Served(snapshots));

        Assert.Equal("/apisix/stream_routes/bad", Assert.Single(snapshots.Current.Skipped).Key);
        Assert.Single(logger.Entries, e => e.EventId == 210);

        // Repairing the value serves it and empties the list.
        await WaitForVersionAsync(snapshots, store.Put("/apisix/stream_routes/bad", Good("bad")));
        Assert.Equal(["bad", "r2"], Served(snapshots));
        Assert.Empty(snapshots.Current.Skipped);
    }

    [Theory]
    [InlineData("not json", "stored value is not JSON")]
    [InlineData("[1, 2]", "stored value is not a JSON object")]
    [InlineData("""{"id": "bad", "server_port": 70000, "upstream_id": "u1"}""", "server_port: property \"server_port\" validation failed: expected 70000 to be at most 65535")]
    [InlineData("""{"id": "bad", "upstream_id": "nowhere"}""", "upstream_id: failed to fetch upstream info by upstream id [nowhere], response code: 404")]
    public async Task Each_kind_of_bad_value_is_skipped_with_its_reason(string value, string reason)
    {
        var store = new MemoryConfigStore();
        store.Put("/apisix/stream_routes/bad", value);
        store.Put("/apisix/stream_routes/r1", Good("r1"));
        var snapshots = new SnapshotHolder();
        await using var source = new StoreConfigSource(store, "/apisix", snapshots, new CapturingLogger());

        await source.LoadInitialAsync().WaitAsync(Timeout);

        Assert.Equal(["r1"], Served(snapshots));
        var skipped = Assert.Single(snapshots.Current.Skipped);
        Assert.Equal("/apisix/stream_routes/bad", skipped.Key);
        Assert.StartsWith(reason, skipped.Reason, StringComparison.Ordinal);
        Assert.DoesNotContain(snapshots.Current.Source.Routes, r => r.Id == "bad");
    }

    [Fact]
    public async Task The_watch_outlives_a_store_error()
    {
        var store = new MemoryConfigStore();
        var snapshots = new SnapshotHolder();
        var logger = new CapturingLogger();
        await using var source = new StoreConfigSource(store, "/apisix", snapshots, logger);
        await source.LoadInitialAsync().WaitAsync(Timeout);
        store.FailNextWatch();
        source.Start();

        var failed = await logger.WaitForAsync(213, Timeout);
        Assert.Contains("Watching the store failed after revision 0", failed.Message, StringComparison.Ordinal);
        await WaitForVersionAsync(snapshots, store.Put("/apisix/stream_routes/r1", Good("r1")));
        Assert.Equal(["r1"], Served(snapshots));
        Assert.Equal(2, store.Watches);
    }

    [Fact]
    public async Task An_expired_DNS_answer_rebuilds_the_stored_configuration()
    {
        var store = new MemoryConfigStore();
        store.Put("/apisix/stream_routes/r1", "{\"id\": \"r1\", \"upstream\": {\"nodes\": {\"db.internal:7001\": 1}}}");
        var clock = new ManualClock();
        var address = System.Net.IPAddress.Parse("10.0.0.1");
        using var resolver = new HostResolver(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, StreamGate.Config.DnsOptions.Default,
            (_, _) => Task.FromResult(new DnsAnswer(address, TimeSpan.FromSeconds(30), null)), clock, null);
        var snapshots = new SnapshotHolder();
        await using var source = new StoreConfigSource(store, "/apisix", snapshots, new CapturingLogger(), resolver);
        await source.LoadInitialAsync().WaitAsync(Timeout);
        source.Start();
        System.Net.IPAddress? Served() => snapshots.Current.Routes.Routes[0].Upstream.Nodes[0].Address;
        Assert.Equal(address, Served());

        address = System.Net.IPAddress.Parse("10.0.0.2");
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.True(resolver.CheckExpiry());
        var deadline = DateTime.UtcNow + Timeout;
        while (!address.Equals(Served()))
        {
            Assert.True(DateTime.UtcNow < deadline, $"still serving {Served()}");
            await Task.Delay(10);
        }
    }
}

