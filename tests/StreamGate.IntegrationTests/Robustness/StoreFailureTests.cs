using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using StreamGate.IntegrationTests.Infrastructure;

namespace StreamGate.IntegrationTests.Robustness;

/// <summary>
/// Issue 7, fault 6, through the real gateway process: store failures used to be 500s with empty bodies and no log
/// line, and one stored value that is not JSON failed every list, GET, PATCH and even the PUT that would repair it.
/// Now every failure answers {"error_msg"} and is logged once with its cause; a damaged value is skipped and named.
/// </summary>
public sealed class StoreFailureTests
{
    private const int TestTimeoutMs = 120_000;
    private const string Root = "/apisix/admin";

    private static async Task DamageAsync(StoreGatewayFolder folder, string key, string value)
    {
        // The gateway is stopped: this is the only writer. Opening checkpoints the WAL the killed process left.
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = folder.DatabasePath, Pooling = false }.ToString());
        await using (connection)
        {
            await connection.OpenAsync();
            await using var command = connection.CreateCommand();
            command.CommandText = "UPDATE kv SET value = $v WHERE key = $k";
            command.Parameters.AddWithValue("$v", value);
            command.Parameters.AddWithValue("$k", key);
            Assert.Equal(1, await command.ExecuteNonQueryAsync());
        }
    }

    private static int Count(string haystack, string needle)
    {
        var count = 0;
        for (var i = haystack.IndexOf(needle, StringComparison.Ordinal); i >= 0; i = haystack.IndexOf(needle, i + needle.Length, StringComparison.Ordinal))
        {
            count++;
        }
        return count;
    }

    [Theory(Timeout = TestTimeoutMs)]
    [InlineData("{not json", "not JSON")]
    [InlineData("[1, 2]", "a JSON array, not an object")]
    public async Task A_damaged_value_is_skipped_and_reported_and_a_PUT_repairs_it(string damaged, string damage)
    {
        using var folder = StoreGatewayFolder.Create();
        using var admin = AdminHttp.For(folder);
        await using (var first = await GatewayProcess.StartInAsync(folder.Directory))
        {
            foreach (var id in (string[])["1", "2", "3"])
            {
                Assert.Equal(201, (await admin.PutAsync($"{Root}/upstreams/{id}", """{"nodes": {"127.0.0.1:1": 1}}""")).Status);
            }
            Assert.Equal(201, (await admin.PutAsync($"{Root}/stream_routes/r1", """{"upstream_id": "3"}""")).Status);
            await first.KillAsync();
        }
        await DamageAsync(folder, "/apisix/upstreams/2", damaged);

        await using var gateway = await GatewayProcess.StartInAsync(folder.Directory);
        var list = await admin.GetAsync($"{Root}/upstreams");
        Assert.True(list.Status == 200, list.ToString());
        var listed = list.Json!.AsObject();
        Assert.Equal(["/apisix/upstreams/1", "/apisix/upstreams/3"], listed["list"]!.AsArray().Select(i => i!["key"]!.GetValue<string>()));
        Assert.Equal(2, listed["total"]!.GetValue<int>());
        var skipped = Assert.Single(listed["skipped"]!.AsArray())!;
        Assert.Equal("/apisix/upstreams/2", skipped["key"]!.GetValue<string>());
        Assert.Contains(damage, skipped["error_msg"]!.GetValue<string>(), StringComparison.Ordinal);

        foreach (var (method, body) in new[] { ("GET", (string?)null), ("PATCH", """{"desc": "x"}""") })
        {
            var reply = await admin.SendAsync(method, $"{Root}/upstreams/2", body);
            Assert.True(reply.Status == 500, $"{method}: {reply}");
            var message = reply.Json!["error_msg"]!.GetValue<string>();
            Assert.StartsWith("the stored value of /apisix/upstreams/2 is damaged (", message, StringComparison.Ordinal);
            Assert.Contains(damage, message, StringComparison.Ordinal);
            Assert.Contains("PUT a whole new value to replace it, or DELETE it", message, StringComparison.Ordinal);
        }
        // The rest of the type is untouched: its objects read, patch and delete (the reference scan skips the damage).
        Assert.Equal(200, (await admin.GetAsync($"{Root}/upstreams/1")).Status);
        Assert.Equal(200, (await admin.SendAsync("PATCH", $"{Root}/upstreams/1", """{"desc": "patched"}""")).Status);
        Assert.Equal(400, (await admin.SendAsync("DELETE", $"{Root}/upstreams/3")).Status);
        Assert.Equal(200, (await admin.SendAsync("DELETE", $"{Root}/upstreams/1")).Status);

        // Logged once for this revision, however often it was met.
        Assert.Equal(1, Count(gateway.Output, "Stored value of /apisix/upstreams/2 (revision"));

        var repair = await admin.PutAsync($"{Root}/upstreams/2", """{"nodes": {"127.0.0.1:2": 1}}""");
        Assert.True(repair.Status == 200, repair.ToString());
        Assert.Equal(200, (await admin.GetAsync($"{Root}/upstreams/2")).Status);
        var after = (await admin.GetAsync($"{Root}/upstreams")).Json!.AsObject();
        Assert.Equal(2, after["total"]!.GetValue<int>());
        Assert.False(after.ContainsKey("skipped"), after.ToJsonString());
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_store_that_cannot_write_answers_503_with_the_cause_and_keeps_serving_reads()
    {
        using var folder = StoreGatewayFolder.Create();
        using var admin = AdminHttp.For(folder);
        // Files of at most 1 MiB (2048 blocks of 512 bytes) with SIGXFSZ ignored: a write past that fails with
        // EFBIG, as a write to a full disk fails with ENOSPC. The runtime's W^X double mapping sizes a shared memory
        // file far past that, so it is off for this process.
        var environment = new Dictionary<string, string> { ["DOTNET_EnableWriteXorExecute"] = "0" };
        await using var gateway = await GatewayProcess.StartInAsync(folder.Directory, environment, fileSizeLimitBlocks: 2048);
        Assert.Equal(201, (await admin.PutAsync($"{Root}/upstreams/small", """{"nodes": {"127.0.0.1:1": 1}}""")).Status);

        // About 200 KB per object: labels of 200 characters each.
        var value = new string('x', 200);
        HttpReply? failure = null;
        var failures = 0;
        for (var i = 0; i < 40 && failures < 2; i++)
        {
            var labels = new StringBuilder();
            for (var l = 0; l < 1000; l++)
            {
                labels.Append(l == 0 ? "" : ", ").Append($"\"k{l}\": \"{value}{i}\"");
            }
            var reply = await admin.PutAsync($"{Root}/upstreams/big-{i}", $$$"""{"nodes": {"127.0.0.1:1": 1}, "labels": {{{{labels}}}}}""");
            if (reply.Status is 200 or 201)
            {
                continue;
            }
            failure ??= reply;
            failures++;
            Assert.True(reply.Status == 503, $"write {i}: {reply}");
        }
        Assert.True(failure is not null, "the writes never reached the file size limit");
        var message = failure.Json!["error_msg"]!.GetValue<string>();
        Assert.StartsWith($"cannot write to the store {folder.DatabasePath}: ", message, StringComparison.Ordinal);
        Assert.Contains("SQLite Error", message, StringComparison.Ordinal);

        // Alive, reads served, and each failed request logged once with its cause.
        Assert.False(gateway.HasExited, gateway.Output);
        Assert.Equal(200, (await admin.GetAsync($"{Root}/upstreams/small")).Status);
        Assert.Equal(200, (await admin.GetAsync($"{Root}/upstreams")).Status);
        Assert.Equal(failures, Count(gateway.Output, "answered 503: cannot write to the store"));
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_zero_length_store_file_refuses_to_start_naming_the_file()
    {
        using var folder = StoreGatewayFolder.Create();
        Directory.CreateDirectory(Path.GetDirectoryName(folder.DatabasePath)!);
        await File.WriteAllBytesAsync(folder.DatabasePath, []);

        var failed = await Assert.ThrowsAsync<InvalidOperationException>(() => GatewayProcess.StartInAsync(folder.Directory));
        Assert.Contains("exited (1)", failed.Message, StringComparison.Ordinal);
        Assert.Contains($"the store {folder.DatabasePath} is an empty file (0 bytes)", failed.Message, StringComparison.Ordinal);
        Assert.Contains("restore it from a backup, or delete it", failed.Message, StringComparison.Ordinal);
        // Left as it was: not turned into an empty store.
        Assert.Equal(0, new FileInfo(folder.DatabasePath).Length);

        // Deleted as the message says, the next start creates a new store whole.
        File.Delete(folder.DatabasePath);
        await using var gateway = await GatewayProcess.StartInAsync(folder.Directory);
        Assert.Contains("opened at revision 0", gateway.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(folder.DatabasePath + ".creating"));
    }
}
