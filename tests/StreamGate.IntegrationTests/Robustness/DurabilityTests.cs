using System.Collections.Concurrent;
using System.Globalization;
using System.Net.Sockets;
using System.Text.Json.Nodes;
using Microsoft.Data.Sqlite;
using StreamGate.IntegrationTests.Infrastructure;
using Xunit.Abstractions;

namespace StreamGate.IntegrationTests.Robustness;

/// <summary>
/// An acknowledged admin write is on disk: the real gateway is SIGKILLed at a random moment while several clients
/// write stream routes through the admin API, restarted on the same folder, and must serve every route it
/// acknowledged (with its content), nothing torn, from a database that opens clean and takes new writes.
/// </summary>
public sealed class DurabilityTests(ITestOutputHelper output)
{
    private const int RoutesPerRound = 1000;
    private const int Rounds = 2;
    private const int Writers = 4;
    private const string RoutesPath = "/apisix/admin/stream_routes/";
    private const string RouteKeyPrefix = "/apisix/stream_routes/";

    [Fact(Timeout = 120_000)]
    public async Task Every_acknowledged_write_survives_SIGKILL_in_the_middle_of_a_burst_of_writes()
    {
        var seed = TestSeed.Get(output);
        var random = new Random(seed);
        await using var backend = TestServer.Named("after-restart");
        using var folder = StoreGatewayFolder.Create();
        using var admin = AdminHttp.For(folder);

        // Everything a client was ever told succeeded (id -> the object it sent), and everything it sent at all.
        var acknowledged = new ConcurrentDictionary<int, JsonObject>();
        var bodies = new ConcurrentDictionary<int, JsonObject>();

        for (var round = 0; round < Rounds; round++)
        {
            var killAfter = random.Next(50, 901);
            var first = (round * RoutesPerRound) + 1;
            var context = $"seed {seed}, round {round + 1}, kill after {killAfter} acknowledged writes";
            output.WriteLine(context);

            var gateway = await GatewayProcess.StartInAsync(folder.Directory);
            try
            {
                if (round > 0)
                {
                    await AssertAllAcknowledgedPresentAsync(admin, folder, acknowledged, bodies, context + ", before the round's writes");
                }
                var (acked, sent) = await WriteUntilKilledAsync(admin, gateway, first, killAfter, backend.Port, acknowledged, bodies, context);
                output.WriteLine($"round {round + 1}: {acked} acknowledged, {sent - acked} in flight when the gateway was killed (exit code {gateway.Process.ExitCode})");
                Assert.True(acked >= killAfter, $"{context}: only {acked} writes acknowledged");
                // 128 + SIGKILL: the process died by the signal, no shutdown code ran.
                Assert.Equal(137, gateway.Process.ExitCode);
            }
            finally
            {
                await gateway.DisposeAsync();
            }
        }

        // The last restart: everything acknowledged in every round is there, the store takes writes, traffic flows.
        await using (var gateway = await GatewayProcess.StartInAsync(folder.Directory))
        {
            Assert.Contains("opened at revision", gateway.Output, StringComparison.Ordinal);
            var listed = await AssertAllAcknowledgedPresentAsync(admin, folder, acknowledged, bodies, $"seed {seed}, final restart");

            var replaced = acknowledged.Keys.Min();
            var rewrite = await admin.PutAsync(RoutesPath + replaced.ToString(CultureInfo.InvariantCulture), RouteBody(replaced, backend.Port, "rewritten").ToJsonString());
            Assert.True(rewrite.Status == 200, $"rewriting route {replaced} after restart: {rewrite}");
            var created = await admin.PutAsync(RoutesPath + "catch-all", "{\"upstream\":{\"nodes\":{\"" + backend.Node + "\":1}}}");
            Assert.True(created.Status == 201, $"new write after restart: {created}");
            // The routes above match 10.x.y.z clients only, so loopback traffic reaches the catch-all.
            await Through.WaitForMarkerAsync(folder.ProxyPort, "after-restart", TimeSpan.FromSeconds(15));
            var control = await ControlHttp.ConfigAsync(folder.ControlPort);
            Assert.Equal(listed + 1, control["stream_routes"]!.GetValue<int>());
            await gateway.KillAsync();
        }

        // The file itself, checked in full (the gateway runs the faster quick_check at open).
        await using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = folder.DatabasePath, Pooling = false }.ToString());
        await connection.OpenAsync();
        await using var check = connection.CreateCommand();
        check.CommandText = "PRAGMA integrity_check";
        Assert.Equal("ok", await check.ExecuteScalarAsync() as string);
    }

    [Fact(Timeout = 120_000)]
    public async Task A_read_never_returns_a_write_that_is_not_on_disk_yet()
    {
        // A GET that answers 200 tells the client the object exists: it must be durable by then, exactly like an
        // acknowledged write, with its real revisions. Readers chase the writes that are in flight; the gateway is
        // then killed, and everything any reader saw must be there after the restart.
        var seed = TestSeed.Get(output);
        var random = new Random(seed);
        await using var backend = TestServer.Named("reads");
        using var folder = StoreGatewayFolder.Create();
        using var admin = AdminHttp.For(folder);
        var bodies = new ConcurrentDictionary<int, JsonObject>();
        var acknowledged = new ConcurrentDictionary<int, JsonObject>();
        var seen = new ConcurrentDictionary<int, long>();
        var wrong = new ConcurrentQueue<string>();
        var next = 0;
        var killing = 0;
        var readsAhead = 0;
        var killAfter = random.Next(300, 901);
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        var gateway = await GatewayProcess.StartInAsync(folder.Directory);
        try
        {
            async Task WriterAsync()
            {
                while (Volatile.Read(ref killing) == 0)
                {
                    var id = Interlocked.Increment(ref next);
                    if (id > RoutesPerRound)
                    {
                        return;
                    }
                    var body = RouteBody(id, backend.Port, "v1");
                    bodies[id] = body;
                    try
                    {
                        var reply = await admin.PutAsync(RoutesPath + id.ToString(CultureInfo.InvariantCulture), body.ToJsonString());
                        if (reply.Status == 201)
                        {
                            acknowledged[id] = body;
                            if (acknowledged.Count >= killAfter)
                            {
                                reached.TrySetResult();
                            }
                        }
                        else
                        {
                            wrong.Enqueue($"PUT {id}: {reply}");
                        }
                    }
                    catch (Exception e) when (Volatile.Read(ref killing) == 1 && e is HttpRequestException or IOException or SocketException or OperationCanceledException)
                    {
                        return;
                    }
                }
            }

            async Task ReaderAsync(int stride)
            {
                while (Volatile.Read(ref killing) == 0)
                {
                    // The newest ids sent: the ones most likely in flight.
                    var id = Volatile.Read(ref next) - stride;
                    if (id < 1 || acknowledged.ContainsKey(id))
                    {
                        await Task.Yield();
                        continue;
                    }
                    try
                    {
                        var reply = await admin.GetAsync(RoutesPath + id.ToString(CultureInfo.InvariantCulture));
                        if (reply.Status == 200)
                        {
                            if (!acknowledged.ContainsKey(id))
                            {
                                Interlocked.Increment(ref readsAhead);
                            }
                            var envelope = reply.Json!.AsObject();
                            var modified = envelope["modifiedIndex"]!.GetValue<long>();
                            seen[id] = modified;
                            if (modified <= 0 || envelope["createdIndex"]!.GetValue<long>() <= 0)
                            {
                                wrong.Enqueue($"GET {id} before its PUT was acknowledged: {reply}");
                            }
                        }
                    }
                    catch (Exception e) when (Volatile.Read(ref killing) == 1 && e is HttpRequestException or IOException or SocketException or OperationCanceledException)
                    {
                        return;
                    }
                }
            }

            var tasks = new List<Task>();
            tasks.AddRange(Enumerable.Range(0, Writers).Select(_ => Task.Run(WriterAsync)));
            tasks.AddRange(Enumerable.Range(0, 2).Select(i => Task.Run(() => ReaderAsync(i))));
            await reached.Task.WaitAsync(TimeSpan.FromSeconds(60));
            Volatile.Write(ref killing, 1);
            await gateway.KillAsync();
            await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(30));
        }
        finally
        {
            await gateway.DisposeAsync();
        }
        output.WriteLine($"{acknowledged.Count} acknowledged; {seen.Count} routes read, {readsAhead} reads answered 200 before the writer had its acknowledgement");

        await using var restarted = await GatewayProcess.StartInAsync(folder.Directory);
        var listed = await admin.ListAllAsync("stream_routes");
        foreach (var (id, modified) in seen)
        {
            if (!listed.TryGetValue(RouteKeyPrefix + id.ToString(CultureInfo.InvariantCulture), out var envelope))
            {
                wrong.Enqueue($"route {id} was read (modifiedIndex {modified}) but is gone after the restart");
            }
            else if (modified > 0 && envelope["modifiedIndex"]!.GetValue<long>() != modified)
            {
                wrong.Enqueue($"route {id} was read at modifiedIndex {modified}, stored at {envelope["modifiedIndex"]}");
            }
        }
        foreach (var id in acknowledged.Keys)
        {
            Assert.True(listed.ContainsKey(RouteKeyPrefix + id.ToString(CultureInfo.InvariantCulture)), $"seed {seed}: acknowledged route {id} lost");
        }
        Assert.True(wrong.IsEmpty, $"seed {seed}: {wrong.Count} problems, first ones:\n{string.Join('\n', wrong.Take(10))}");
    }

    /// <summary>Several clients PUT routes first..first+999; another task SIGKILLs the gateway once killAfter were acknowledged.</summary>
    private static async Task<(int Acknowledged, int Sent)> WriteUntilKilledAsync(
        AdminHttp admin, GatewayProcess gateway, int first, int killAfter, int backendPort,
        ConcurrentDictionary<int, JsonObject> acknowledged, ConcurrentDictionary<int, JsonObject> bodies, string context)
    {
        var next = first - 1;
        var last = first + RoutesPerRound - 1;
        var acked = 0;
        var sent = 0;
        var killing = 0;
        var rejected = new ConcurrentQueue<string>();
        var reached = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        async Task WriterAsync()
        {
            while (true)
            {
                var id = Interlocked.Increment(ref next);
                if (id > last)
                {
                    return;
                }
                var body = RouteBody(id, backendPort, "v1");
                bodies[id] = body;
                Interlocked.Increment(ref sent);
                HttpReply reply;
                try
                {
                    reply = await admin.PutAsync(RoutesPath + id.ToString(CultureInfo.InvariantCulture), body.ToJsonString());
                }
                catch (Exception e) when (Volatile.Read(ref killing) == 1 && e is HttpRequestException or IOException or SocketException or OperationCanceledException)
                {
                    return;
                }
                if (reply.Status == 201)
                {
                    acknowledged[id] = body;
                    if (Interlocked.Increment(ref acked) >= killAfter)
                    {
                        reached.TrySetResult();
                    }
                }
                else
                {
                    rejected.Enqueue($"route {id}: {reply}");
                }
            }
        }

        async Task KillerAsync()
        {
            await reached.Task.WaitAsync(TimeSpan.FromSeconds(60));
            Volatile.Write(ref killing, 1);
            await gateway.KillAsync();
        }

        var writers = Enumerable.Range(0, Writers).Select(_ => Task.Run(WriterAsync)).ToList();
        var killer = Task.Run(KillerAsync);
        await Task.WhenAll(writers).WaitAsync(TimeSpan.FromSeconds(60));
        await killer.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.True(rejected.IsEmpty, $"{context}: writes refused before the kill:\n{string.Join('\n', rejected)}");
        return (acked, sent);
    }

    /// <summary>Lists every stream route and checks it against what the clients sent and were acknowledged; returns how many are listed.</summary>
    private static async Task<int> AssertAllAcknowledgedPresentAsync(
        AdminHttp admin, StoreGatewayFolder folder, ConcurrentDictionary<int, JsonObject> acknowledged, ConcurrentDictionary<int, JsonObject> bodies, string context)
    {
        var listed = await admin.ListAllAsync("stream_routes");
        var missing = acknowledged.Keys.Where(id => !listed.ContainsKey(RouteKeyPrefix + id.ToString(CultureInfo.InvariantCulture))).Order().ToList();
        Assert.True(missing.Count == 0, $"{context}: {missing.Count} acknowledged routes lost, first ones: {string.Join(", ", missing.Take(20))}");

        foreach (var (key, envelope) in listed)
        {
            // Every stored route is one a client sent, whole: acknowledged, or in flight when the process died.
            Assert.True(key.StartsWith(RouteKeyPrefix, StringComparison.Ordinal), $"{context}: unexpected key {key}");
            JsonObject? sent = null;
            Assert.True(int.TryParse(key[RouteKeyPrefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var id) && bodies.TryGetValue(id, out sent),
                $"{context}: stored route {key} was never written");
            AssertSameRoute(sent!, envelope["value"]!.AsObject(), id, $"{context}, listed");
        }

        foreach (var id in acknowledged.Keys)
        {
            var reply = await admin.GetAsync(RoutesPath + id.ToString(CultureInfo.InvariantCulture));
            Assert.True(reply.Status == 200, $"{context}: GET acknowledged route {id}: {reply}");
            AssertSameRoute(acknowledged[id], reply.Json!["value"]!.AsObject(), id, $"{context}, GET");
        }

        // The data plane loaded the same set at start.
        var control = await ControlHttp.ConfigAsync(folder.ControlPort);
        Assert.Equal(listed.Count, control["stream_routes"]!.GetValue<int>());
        return listed.Count;
    }

    private static void AssertSameRoute(JsonObject sent, JsonObject stored, int id, string context)
    {
        Assert.Equal(id.ToString(CultureInfo.InvariantCulture), stored["id"]?.GetValue<string>());
        foreach (var (name, value) in sent)
        {
            Assert.True(JsonNode.DeepEquals(value, stored[name]), $"{context}: route {id} field {name}: sent {value?.ToJsonString()}, stored {stored[name]?.ToJsonString()}");
        }
        Assert.NotNull(stored["create_time"]);
        Assert.NotNull(stored["update_time"]);
    }

    /// <summary>A route only 10.x.y.z clients match, with enough content to tell a torn or mixed-up write.</summary>
    private static JsonObject RouteBody(int id, int backendPort, string version) => new()
    {
        ["desc"] = $"durability route {id} {version}",
        ["remote_addr"] = $"10.{id / 250 % 250}.{id % 250}.{id % 7}",
        ["labels"] = new JsonObject { ["n"] = id.ToString(CultureInfo.InvariantCulture), ["v"] = version },
        ["upstream"] = new JsonObject
        {
            ["type"] = "roundrobin",
            ["nodes"] = new JsonObject { [$"127.0.0.1:{backendPort}"] = 1 + (id % 5) },
        },
    };
}
