using System.Net;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging;
using StreamGate.Config;
using StreamGate.Runtime;
using StreamGate.Tests.Logging;

namespace StreamGate.Tests.Runtime;

/// <summary>
/// The apisix.yaml watcher: reads a file only when its modification time or size changed, keeps the last good
/// configuration through anything a file holds, and says a file is missing once, not every second.
/// </summary>
public sealed class StandaloneConfigWatcherTests : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);

    private readonly string _directory = Directory.CreateTempSubdirectory("streamgate-watcher-").FullName;

    private string FilePath => Path.Combine(_directory, "apisix.yaml");

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    private static string Route(int port) => $$"""
        stream_routes:
          - id: r{{port}}
            upstream:
              nodes: {"127.0.0.1:{{port}}": 1}
        #END
        """;

    /// <summary>Writes the file with a modification time of its own, so a change is seen whatever the file system's time resolution.</summary>
    private void Write(string text, int stamp) => Write(System.Text.Encoding.UTF8.GetBytes(text), stamp);

    private void Write(byte[] bytes, int stamp)
    {
        File.WriteAllBytes(FilePath, bytes);
        File.SetLastWriteTimeUtc(FilePath, new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddSeconds(stamp));
    }

    private (StandaloneConfigWatcher Watcher, SnapshotHolder Snapshots, CapturingLogger Logger, Func<int> Reads) Create()
    {
        var reads = 0;
        var snapshots = new SnapshotHolder();
        var logger = new CapturingLogger();
        var watcher = new StandaloneConfigWatcher(FilePath, snapshots, logger, read: path =>
        {
            Interlocked.Increment(ref reads);
            return StandaloneFile.ReadBytes(path);
        });
        return (watcher, snapshots, logger, () => Volatile.Read(ref reads));
    }

    private static string[] Served(SnapshotHolder snapshots) => [.. snapshots.Current.Routes.Routes.Select(r => r.Id)];

    [Fact]
    public async Task An_unchanged_file_is_not_read_again()
    {
        Write(Route(7001), 1);
        var (watcher, snapshots, _, reads) = Create();
        await using var _ = watcher;
        await watcher.LoadInitialAsync().WaitAsync(Timeout);
        Assert.Equal(1, reads());

        for (var i = 0; i < 5; i++)
        {
            await watcher.CheckOnceAsync().WaitAsync(Timeout);
        }
        Assert.Equal(1, reads());
        Assert.Equal(1, snapshots.SourceReads);

        // Touched (new modification time), same content: read once and hashed, not rebuilt.
        File.SetLastWriteTimeUtc(FilePath, DateTime.UtcNow);
        await watcher.CheckOnceAsync().WaitAsync(Timeout);
        await watcher.CheckOnceAsync().WaitAsync(Timeout);
        Assert.Equal(2, reads());
        Assert.Equal(1, snapshots.Current.Version);

        // Another size, same modification time: read and applied.
        var stamp = File.GetLastWriteTimeUtc(FilePath);
        File.WriteAllText(FilePath, Route(17002));
        File.SetLastWriteTimeUtc(FilePath, stamp);
        await watcher.CheckOnceAsync().WaitAsync(Timeout);
        Assert.Equal(3, reads());
        Assert.Equal(["r17002"], Served(snapshots));
    }

    [Fact]
    public async Task A_missing_file_is_reported_once_and_again_only_when_that_changes()
    {
        Write(Route(7001), 1);
        var (watcher, snapshots, logger, _) = Create();
        await using var _ = watcher;
        await watcher.LoadInitialAsync().WaitAsync(Timeout);

        File.Delete(FilePath);
        for (var i = 0; i < 5; i++)
        {
            await watcher.CheckOnceAsync().WaitAsync(Timeout);
        }
        var missing = Assert.Single(logger.Entries, e => e.EventId == 202);
        Assert.Equal(LogLevel.Warning, missing.Level);
        Assert.Contains("it does not exist; the last good configuration keeps serving (said again only when this changes)", missing.Message, StringComparison.Ordinal);
        Assert.Equal(["r7001"], Served(snapshots));

        Write(Route(7002), 2);
        await watcher.CheckOnceAsync().WaitAsync(Timeout);
        Assert.Single(logger.Entries, e => e.EventId == 203);
        Assert.Equal(["r7002"], Served(snapshots));

        File.Delete(FilePath);
        await watcher.CheckOnceAsync().WaitAsync(Timeout);
        await watcher.CheckOnceAsync().WaitAsync(Timeout);
        Assert.Equal(2, logger.Entries.Count(e => e.EventId == 202));
    }

    [Fact]
    public async Task Hostile_files_are_rejected_with_the_reason_and_the_last_good_one_keeps_serving()
    {
        Write(Route(7001), 1);
        var (watcher, snapshots, logger, _) = Create();
        await using var _ = watcher;
        await watcher.LoadInitialAsync().WaitAsync(Timeout);

        (byte[] Bytes, string Reason)[] hostile =
        [
            ([.. System.Text.Encoding.UTF8.GetBytes("stream_routes: []\n# "), 0xff, 0xfe, .. "\n#END\n"u8], "not valid UTF-8: 0xFF at line 2 (byte offset 20)"),
            (System.Text.Encoding.UTF8.GetBytes("a: " + new string('[', 100_000) + "\n#END\n"), "nesting deeper than 64 levels at line 1"),
            (System.Text.Encoding.UTF8.GetBytes("stream_routes:\n  - id: 1\n    upstream: {nodes: {\"127.0.0.1:70000\": 1}}\n#END\n"), "invalid node address"),
        ];
        var stamp = 2;
        foreach (var (bytes, reason) in hostile)
        {
            Write(bytes, stamp++);
            await watcher.CheckOnceAsync().WaitAsync(Timeout);
            var rejected = snapshots.Rejection;
            Assert.NotNull(rejected);
            Assert.Contains(reason, rejected.Reason, StringComparison.Ordinal);
            Assert.Contains(reason, logger.Entries.Last(e => e.EventId == 201).Message, StringComparison.Ordinal);
            Assert.Equal(["r7001"], Served(snapshots));
        }

        using (var file = File.OpenWrite(FilePath))
        {
            file.SetLength(StandaloneFile.MaxBytes + 1);
        }
        await watcher.CheckOnceAsync().WaitAsync(Timeout);
        Assert.Contains("over the limit of 32 MiB", snapshots.Rejection!.Reason, StringComparison.Ordinal);
        Assert.Equal(["r7001"], Served(snapshots));

        // The next good file is applied and clears the rejection.
        Write(Route(7003), stamp);
        await watcher.CheckOnceAsync().WaitAsync(Timeout);
        Assert.Equal(["r7003"], Served(snapshots));
        Assert.Null(snapshots.Rejection);
        Assert.Equal(2, snapshots.Current.Version);
    }

    [Fact]
    public async Task A_first_load_of_a_hostile_file_is_refused_with_the_reason()
    {
        Write("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\nc: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
            + "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\ne: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n"
            + "g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]\n#END\n", 1);
        var (watcher, snapshots, _, _) = Create();
        await using var _ = watcher;
        var error = await Assert.ThrowsAsync<ConfigException>(() => watcher.LoadInitialAsync().WaitAsync(Timeout));
        Assert.Contains("aliases expand to more than 1,000,000 nodes", error.Message, StringComparison.Ordinal);
        Assert.Same(RuntimeSnapshot.Empty, snapshots.Current);
    }

    [Fact]
    public async Task An_expired_DNS_answer_rebuilds_the_unchanged_file_at_the_next_poll()
    {
        File.WriteAllText(FilePath, "stream_routes:\n  - id: r1\n    upstream:\n      nodes: {\"db.internal:7001\": 1}\n#END\n");
        var clock = new ManualClock();
        var address = System.Net.IPAddress.Parse("10.0.0.1");
        using var resolver = new HostResolver(Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance, DnsOptions.Default,
            (_, _) => Task.FromResult(new DnsAnswer(address, TimeSpan.FromSeconds(30), null)), clock, null);
        var snapshots = new SnapshotHolder();
        await using var watcher = new StandaloneConfigWatcher(FilePath, snapshots, new CapturingLogger(), resolver: resolver);
        await watcher.LoadInitialAsync().WaitAsync(Timeout);
        System.Net.IPAddress? Served() => snapshots.Current.Routes.Routes[0].Upstream.Nodes[0].Address;
        Assert.Equal(address, Served());

        address = System.Net.IPAddress.Parse("10.0.0.2");
        await watcher.CheckOnceAsync().WaitAsync(Timeout);
        Assert.Equal(System.Net.IPAddress.Parse("10.0.0.1"), Served());
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.True(resolver.CheckExpiry());
        await watcher.CheckOnceAsync().WaitAsync(Timeout);
        Assert.Equal(address, Served());
        Assert.Equal(2, snapshots.Current.Version);
        Assert.Equal(1, snapshots.SourceReads);
    }

    [Fact]
    public async Task An_expired_dns_answer_is_followed_while_a_refused_file_sits_there()
    {
        File.WriteAllText(FilePath, "stream_routes:\n  - id: r1\n    upstream:\n      nodes: {\"db.internal:7001\": 1}\n#END\n");
        var clock = new ManualClock();
        var address = IPAddress.Parse("10.0.0.1");
        using var resolver = new HostResolver(NullLogger.Instance, DnsOptions.Default,
            (_, _) => Task.FromResult(new DnsAnswer(address, TimeSpan.FromSeconds(30), null)), clock, null);
        var snapshots = new SnapshotHolder();
        await using var watcher = new StandaloneConfigWatcher(FilePath, snapshots, new CapturingLogger(), resolver: resolver);
        await watcher.LoadInitialAsync();
        IPAddress? Served() => snapshots.Current.Routes.Routes[0].Upstream.Nodes[0].Address;

        address = IPAddress.Parse("10.0.0.2");
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.True(resolver.CheckExpiry());
        // Mid-edit: the file lacks #END and is refused; the served configuration follows its DNS all the same.
        File.WriteAllText(FilePath, "stream_routes:\n  - id: r1\n    upstream:\n      nodes: {\"db.internal:7001\": 1}\n");
        await watcher.CheckOnceAsync();
        Assert.Equal(address, Served());
        Assert.NotNull(snapshots.Rejection);

        // And it keeps following it: the resolver was armed again by that rebuild.
        address = IPAddress.Parse("10.0.0.3");
        clock.Advance(TimeSpan.FromSeconds(30));
        Assert.True(resolver.CheckExpiry());
        await watcher.CheckOnceAsync();
        Assert.Equal(address, Served());
        Assert.NotNull(snapshots.Rejection);
    }
}

