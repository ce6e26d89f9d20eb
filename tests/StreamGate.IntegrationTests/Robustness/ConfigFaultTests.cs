using System.Text;
using Microsoft.Data.Sqlite;
using StreamGate.IntegrationTests.Infrastructure;

namespace StreamGate.IntegrationTests.Robustness;

/// <summary>
/// Issue 7, faults 1 and 3 and the missing-file warning of fault 7, through the real gateway process: nothing a
/// store or an apisix.yaml holds stops the gateway from starting, from serving what is good, or from applying the
/// next change.
/// </summary>
public sealed class ConfigFaultTests
{
    private const int TestTimeoutMs = 90_000;
    private static readonly TimeSpan ReloadTimeout = TimeSpan.FromSeconds(15);

    // JSON that parses, then throws when the object is first read (duplicate keys): on main it escaped the build,
    // killed the build loop without a line and crashed every later start.
    private const string Unreadable = """{"id": "bad", "nodes": {"127.0.0.1:1": 1}, "type": "roundrobin", "type": "chash"}""";

    private static string InlineRoute(string id, TestServer server) =>
        "{\"id\": \"" + id + "\", \"upstream\": {\"nodes\": {\"" + server.Node + "\": 1}}}";

    /// <summary>Writes a value straight into a stopped gateway's database, as a hand edit or an older version would leave it.</summary>
    private static async Task PutRawAsync(string databasePath, string key, string value)
    {
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = databasePath, Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var transaction = connection.BeginTransaction();
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = """
            UPDATE meta SET value = value + 1 WHERE name = 'revision';
            INSERT INTO kv(key, value, create_revision, mod_revision) SELECT $k, $v, value, value FROM meta WHERE name = 'revision';
            INSERT INTO changes(revision, key, type, value, create_revision) SELECT value, $k, 0, $v, value FROM meta WHERE name = 'revision';
            """;
        command.Parameters.AddWithValue("$k", key);
        command.Parameters.AddWithValue("$v", value);
        Assert.Equal(3, await command.ExecuteNonQueryAsync());
        await transaction.CommitAsync();
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_stored_object_that_cannot_be_read_is_skipped_at_start_and_later_writes_still_apply()
    {
        await using var first = TestServer.Named("first");
        await using var second = TestServer.Named("second");
        using var folder = StoreGatewayFolder.Create();
        using var admin = AdminHttp.For(folder);
        await using (var gateway = await GatewayProcess.StartInAsync(folder.Directory))
        {
            var put = await admin.PutAsync("/apisix/admin/stream_routes/r1", InlineRoute("r1", first));
            Assert.True(put.IsSuccess, put.ToString());
            gateway.Terminate();
            Assert.Equal(0, await gateway.WaitForExitAsync(ReloadTimeout));
        }
        await PutRawAsync(folder.DatabasePath, "/apisix/upstreams/bad", Unreadable);

        await using (var gateway = await GatewayProcess.StartInAsync(folder.Directory))
        {
            await gateway.WaitForOutputAsync("Skipped /apisix/upstreams/bad at revision 2: stored value cannot be read", ReloadTimeout);
            await Through.WaitForMarkerAsync(folder.ProxyPort, "first", ReloadTimeout);
            var control = await ControlHttp.ConfigAsync(folder.ControlPort);
            Assert.Equal(2, control["revision"]!.GetValue<long>());
            Assert.Equal(1, control["skipped_count"]!.GetValue<int>());
            var skipped = Assert.Single(control["skipped"]!.AsArray())!;
            Assert.Equal("/apisix/upstreams/bad", skipped["key"]!.GetValue<string>());
            Assert.Contains("An item with the same key has already been added", skipped["reason"]!.GetValue<string>(), StringComparison.Ordinal);
            // ... and counted in the metrics, by resource type.
            var metrics = await ControlHttp.MetricsAsync(folder.ControlPort);
            Assert.Contains("streamgate_config_skipped_objects{resource=\"upstreams\"} 1", metrics);
            Assert.Contains("streamgate_config_skipped_objects{resource=\"stream_routes\"} 0", metrics);
            Assert.Contains("streamgate_config_revision 2", metrics);

            // Every acknowledged write still goes live: a new route, and the old one's delete.
            var put = await admin.PutAsync("/apisix/admin/stream_routes/r2", InlineRoute("r2", second));
            Assert.True(put.IsSuccess, put.ToString());
            var delete = await admin.SendAsync("DELETE", "/apisix/admin/stream_routes/r1");
            Assert.True(delete.IsSuccess, delete.ToString());
            await Through.WaitForMarkerAsync(folder.ProxyPort, "second", ReloadTimeout);
            var after = await ControlHttp.ConfigAsync(folder.ControlPort);
            Assert.Equal(4, after["revision"]!.GetValue<long>());
            Assert.Equal(1, after["stream_routes"]!.GetValue<int>());
            Assert.Equal(1, after["skipped_count"]!.GetValue<int>());
            // Logged when first skipped, not again on every build.
            Assert.Single(gateway.Output.Split('\n'), l => l.Contains("Skipped /apisix/upstreams/bad", StringComparison.Ordinal));
        }
    }

    private static (string Config, int ProxyPort, int ControlPort) Standalone()
    {
        var proxy = Ports.GetFree();
        var control = Ports.GetFree();
        var config = string.Join('\n',
            "apisix:",
            "  proxy_mode: stream",
            "  stream_proxy:",
            $"    tcp: [\"127.0.0.1:{proxy}\"]",
            $"  control: {{ip: 127.0.0.1, port: {control}}}",
            "deployment:",
            "  role: data_plane",
            "  role_data_plane: {config_provider: yaml}",
            "");
        return (config, proxy, control);
    }

    private static string RouteTo(TestServer server, string padding = "") =>
        "stream_routes:\n  - id: 1\n    upstream:\n      nodes: {\"" + server.Node + "\": 1}\n" + padding + "#END\n";

    /// <summary>Waits (bounded) until the watcher has looked at apisix.yaml <paramref name="polls"/> more times.</summary>
    private static async Task WaitForPollsAsync(int controlPort, int polls)
    {
        static async Task<long> ChecksAsync(int port) => (await ControlHttp.ConfigAsync(port))["source_checks"]!.GetValue<long>();
        var target = await ChecksAsync(controlPort) + polls;
        var deadline = DateTime.UtcNow + ReloadTimeout + TimeSpan.FromSeconds(polls);
        while (await ChecksAsync(controlPort) < target)
        {
            Assert.True(DateTime.UtcNow < deadline, $"the watcher did not poll {polls} more times");
            await Task.Delay(100);
        }
    }

    /// <summary>The 490-byte "billion laughs": nine levels of nine aliases, 387 million strings expanded.</summary>
    private static string AliasBomb()
    {
        var text = new StringBuilder("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        for (var level = 'b'; level <= 'i'; level++)
        {
            text.Append(level).Append(": &").Append(level).Append(" [").Append(string.Join(",", Enumerable.Repeat("*" + (char)(level - 1), 9))).Append("]\n");
        }
        return text.Append("#END\n").ToString();
    }

    private static byte[] InvalidUtf8() => [.. "stream_routes: []\n# caf"u8, 0xE9, .. "\n#END\n"u8];

    private static byte[] DeepNesting() => Encoding.ASCII.GetBytes("stream_routes: " + new string('[', 100_000) + "\n#END\n");

    /// <summary>Replaces apisix.yaml atomically (write + rename) with these bytes.</summary>
    private static void Replace(GatewayProcess gateway, byte[] content)
    {
        var temp = gateway.StandalonePath + ".tmp";
        File.WriteAllBytes(temp, content);
        File.Move(temp, gateway.StandalonePath, overwrite: true);
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Hostile_standalone_files_are_rejected_with_their_limit_and_the_last_good_one_keeps_serving()
    {
        await using var a = TestServer.Named("A");
        await using var b = TestServer.Named("B");
        var (config, proxyPort, controlPort) = Standalone();
        await using var gateway = await GatewayProcess.StartAsync(config, RouteTo(a));
        Assert.Equal("A", await Through.FirstLineAsync(proxyPort));

        (byte[] Content, string Reason)[] hostile =
        [
            (InvalidUtf8(), "not valid UTF-8: 0xE9 at line 2 (byte offset 23)"),
            (DeepNesting(), "nesting deeper than 64 levels at line 1"),
            (Encoding.ASCII.GetBytes(AliasBomb()), "aliases expand to more than 1,000,000 nodes"),
        ];
        var rejected = 0;
        foreach (var (content, reason) in hostile)
        {
            Replace(gateway, content);
            await gateway.WaitForOutputAsync("Rejected", ReloadTimeout, occurrences: ++rejected);
            Assert.Contains(reason, gateway.Output, StringComparison.Ordinal);
            var control = await ControlHttp.ConfigAsync(controlPort);
            Assert.Contains(reason, control["rejected"]!["reason"]!.GetValue<string>(), StringComparison.Ordinal);
            Assert.Equal(1, control["revision"]!.GetValue<long>());
            Assert.Equal("A", await Through.FirstLineAsync(proxyPort));
        }

        // Over the size limit: refused from its size, never read (a sparse file: no disk is written).
        var temp = gateway.StandalonePath + ".tmp";
        using (var big = File.Create(temp))
        {
            big.SetLength((32L * 1024 * 1024) + 1);
        }
        File.Move(temp, gateway.StandalonePath, overwrite: true);
        await gateway.WaitForOutputAsync("Rejected", ReloadTimeout, occurrences: ++rejected);
        Assert.Contains("is 33,554,433 bytes, over the limit of 32 MiB (33,554,432 bytes)", gateway.Output, StringComparison.Ordinal);
        Assert.Equal("A", await Through.FirstLineAsync(proxyPort));

        // The watcher is still there: the next good file goes live.
        gateway.ReplaceStandalone(RouteTo(b));
        await gateway.WaitForOutputAsync("(version 2)", ReloadTimeout);
        Assert.Equal("B", await Through.FirstLineAsync(proxyPort));
        var last = await ControlHttp.ConfigAsync(controlPort);
        Assert.Null(last["rejected"]);
        // Each refused file counted once (four), and the good one's version served.
        var metrics = await ControlHttp.MetricsAsync(controlPort);
        Assert.Contains($"streamgate_config_rejected_total {rejected}", metrics);
        Assert.Contains("streamgate_config_revision 2", metrics);
        Assert.False(gateway.HasExited);
    }

    public static TheoryData<string, string> HostileFirstFiles() => new()
    {
        { "utf8", "apisix.yaml: not valid UTF-8: 0xE9 at line 2 (byte offset 23); save the file as UTF-8" },
        { "deep", "apisix.yaml: nesting deeper than 64 levels at line 1" },
        { "bomb", "apisix.yaml: aliases expand to more than 1,000,000 nodes" },
    };

    [Theory(Timeout = TestTimeoutMs)]
    [MemberData(nameof(HostileFirstFiles))]
    public async Task A_hostile_first_file_refuses_to_start_and_fails_validate_with_the_limit(string kind, string message)
    {
        var (config, _, _) = Standalone();
        // Written here as bytes (RunToExitAsync takes text, which cannot hold invalid UTF-8).
        var directory = Path.Combine(Path.GetTempPath(), "streamgate-it-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(directory);
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "config.yaml"), config);
            await File.WriteAllBytesAsync(Path.Combine(directory, "apisix.yaml"), kind switch
            {
                "utf8" => InvalidUtf8(),
                "deep" => DeepNesting(),
                _ => Encoding.ASCII.GetBytes(AliasBomb()),
            });
            foreach (var command in (string[])["run", "validate"])
            {
                using var process = GatewayLauncher.Create(directory, command);
                var output = new StringBuilder();
                GatewayLauncher.Start(process, line =>
                {
                    lock (output)
                    {
                        output.AppendLine(line);
                    }
                });
                using var timeout = new CancellationTokenSource(GatewayProcess.StartTimeout);
                await process.WaitForExitAsync(timeout.Token);
                string text;
                lock (output)
                {
                    text = output.ToString();
                }
                Assert.True(process.ExitCode == 1, $"{command}: exit code {process.ExitCode}; output:\n{text}");
                Assert.Contains(message, text, StringComparison.Ordinal);
                Assert.DoesNotContain("Unhandled exception", text, StringComparison.Ordinal);
            }
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_large_unchanged_file_is_not_read_again()
    {
        // 24 MiB, nearly all comment (cheap to parse). The control API counts the times the file was read in full.
        await using var a = TestServer.Named("A");
        var (config, proxyPort, controlPort) = Standalone();
        var line = "# " + new string('x', 1022) + "\n";
        var padding = string.Concat(Enumerable.Repeat(line, 24 * 1024));
        await using var gateway = await GatewayProcess.StartAsync(config, RouteTo(a, padding));
        Assert.Equal("A", await Through.FirstLineAsync(proxyPort));
        Assert.Equal(1, (await ControlHttp.ConfigAsync(controlPort))["source_reads"]!.GetValue<long>());

        // Three polls go by (one a second): none reads the file. (Main read and hashed it at each: 16-24% of a
        // core for 50 MB.)
        await WaitForPollsAsync(controlPort, 3);
        Assert.Equal(1, (await ControlHttp.ConfigAsync(controlPort))["source_reads"]!.GetValue<long>());

        // A new modification time is a change to look at: read once (same content, so nothing is applied).
        File.SetLastWriteTimeUtc(gateway.StandalonePath, DateTime.UtcNow.AddSeconds(5));
        var deadline = DateTime.UtcNow + ReloadTimeout;
        while ((await ControlHttp.ConfigAsync(controlPort))["source_reads"]!.GetValue<long>() < 2)
        {
            Assert.True(DateTime.UtcNow < deadline, "the touched file was not read again");
            await Task.Delay(100);
        }
        Assert.Equal(1, (await ControlHttp.ConfigAsync(controlPort))["revision"]!.GetValue<long>());
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_deleted_file_is_reported_once_until_it_is_back()
    {
        await using var a = TestServer.Named("A");
        await using var b = TestServer.Named("B");
        var (config, proxyPort, controlPort) = Standalone();
        await using var gateway = await GatewayProcess.StartAsync(config, RouteTo(a));

        File.Delete(gateway.StandalonePath);
        await gateway.WaitForOutputAsync("it does not exist; the last good configuration keeps serving", ReloadTimeout);
        // Several polls later (one a second), still one line; the last good configuration serves meanwhile.
        await WaitForPollsAsync(controlPort, 3);
        Assert.Equal("A", await Through.FirstLineAsync(proxyPort));
        Assert.Single(gateway.Output.Split('\n'), l => l.Contains("Cannot read", StringComparison.Ordinal));

        gateway.ReplaceStandalone(RouteTo(b));
        await gateway.WaitForOutputAsync("(version 2)", ReloadTimeout);
        Assert.Contains("can be read again", gateway.Output, StringComparison.Ordinal);
        Assert.Equal("B", await Through.FirstLineAsync(proxyPort));
        Assert.Single(gateway.Output.Split('\n'), l => l.Contains("Cannot read", StringComparison.Ordinal));
    }
}
