using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Xunit.Abstractions;

namespace StreamGate.IntegrationTests.Admin;

/// <summary>
/// Issue 7, fault 2: concurrent writes through the real gateway. A PATCH is a read-merge-write; it used to read,
/// merge and then write unconditionally, so concurrent PATCHes lost most of their updates (130-141 of 180) and a
/// PATCH racing a DELETE re-created the deleted object with 201. Now it writes only on the revision it read.
/// </summary>
public sealed class AdminConcurrencyTests(AdminGatewayFixture fixture, ITestOutputHelper output) : IClassFixture<AdminGatewayFixture>
{
    private const int TestTimeoutMs = 120_000;
    private const string Nodes = """{"127.0.0.1:1": 1}""";

    private AdminGateway Gateway => fixture.Gateway;

    /// <summary>Clients of their own, so requests really run at once (one connection each).</summary>
    private HttpClient[] Clients(int count) => [.. Enumerable.Range(0, count).Select(_ => AdminGateway.CreateClient(Gateway.AdminPort))];

    [Fact(Timeout = TestTimeoutMs)]
    public async Task Six_clients_patching_disjoint_labels_lose_no_acknowledged_update()
    {
        const int ClientCount = 6;
        const int PatchesEach = 30;
        Assert.Equal(HttpStatusCode.Created, (await Gateway.PutAsync("upstreams/cc-labels", $$$"""{"nodes": {{{Nodes}}}, "labels": {"base": "1"}}""")).Status);
        var clients = Clients(ClientCount);
        try
        {
            var acknowledged = new ConcurrentBag<string>();
            await Task.WhenAll(clients.Select((client, c) => Task.Run(async () =>
            {
                for (var i = 0; i < PatchesEach; i++)
                {
                    var label = $"c{c}-{i}";
                    var reply = await AdminGateway.SendAsync(client, HttpMethod.Patch, "upstreams/cc-labels", $$$"""{"labels": {"{{{label}}}": "v"}}""");
                    Assert.True(reply.Status == HttpStatusCode.OK, $"PATCH {label}: {reply}");
                    acknowledged.Add(label);
                }
            })));

            var labels = (await Gateway.GetAsync("upstreams/cc-labels")).Body!["value"]!["labels"]!.AsObject();
            var lost = acknowledged.Where(l => !labels.ContainsKey(l)).Order(StringComparer.Ordinal).ToList();
            Assert.True(lost.Count == 0, $"{lost.Count} of {acknowledged.Count} acknowledged updates lost: {string.Join(", ", lost)}");
            Assert.Equal(ClientCount * PatchesEach + 1, labels.Count);
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }
    }

    [Fact(Timeout = TestTimeoutMs)]
    public async Task A_patch_racing_a_delete_never_brings_the_object_back()
    {
        using var patcher = AdminGateway.CreateClient(Gateway.AdminPort);
        using var deleter = AdminGateway.CreateClient(Gateway.AdminPort);
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);
        for (var round = 0; round < 40; round++)
        {
            var path = $"upstreams/cc-race-{round.ToString(CultureInfo.InvariantCulture)}";
            Assert.Equal(HttpStatusCode.Created, (await Gateway.PutAsync(path, $$"""{"nodes": {{Nodes}}}""")).Status);
            var patch = Task.Run(() => AdminGateway.SendAsync(patcher, HttpMethod.Patch, path, """{"desc": "patched"}"""));
            var delete = Task.Run(() => AdminGateway.SendAsync(deleter, HttpMethod.Delete, path));
            var (patched, deleted) = (await patch, await delete);
            Assert.True(patched.Status is HttpStatusCode.OK or HttpStatusCode.NotFound, $"round {round}: PATCH answered {patched}");
            Assert.True(deleted.Status == HttpStatusCode.OK, $"round {round}: DELETE answered {deleted}");
            // Whichever went first, the acknowledged DELETE is the last word: a PATCH before it is deleted with
            // the object, a PATCH after it finds nothing (404).
            var after = await Gateway.GetAsync(path);
            Assert.True(after.Status == HttpStatusCode.NotFound, $"round {round}: after PATCH {patched} and DELETE {deleted}, GET answered {after}");
            var outcome = patched.Status.ToString();
            outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
        }
        output.WriteLine(string.Join(", ", outcomes.Select(o => $"PATCH {o.Key}: {o.Value}")));
    }

    private sealed record Op(int Client, int Seq, string Object, string Kind, string Marker, long Start, long End, HttpStatusCode Status)
    {
        public bool Succeeded => Status is HttpStatusCode.OK or HttpStatusCode.Created;

        public override string ToString() => $"{Kind} {Object} {Marker} by client {Client} => {(int)Status}";
    }

    /// <summary>
    /// Many clients PUT (replacing the labels with a marker), PATCH (adding a label of their own) and DELETE the same
    /// few objects. The end state must be one that some serial order of the acknowledged writes explains, in the
    /// order the clients saw them happen (a write that was answered before another started comes first), and no
    /// acknowledged PATCH after the last PUT may be missing. Checked per object on the recorded histories.
    /// </summary>
    [Fact(Timeout = TestTimeoutMs)]
    public async Task Puts_patches_and_deletes_of_the_same_objects_end_in_a_state_a_serial_order_explains()
    {
        const int ClientCount = 6;
        const int OpsEach = 40;
        var objects = new[] { "upstreams/cc-mixed-a", "upstreams/cc-mixed-b", "upstreams/cc-mixed-c" };
        var seed = Environment.TickCount;
        output.WriteLine($"seed {seed}");
        var history = new ConcurrentBag<Op>();
        var clients = Clients(ClientCount);
        try
        {
            await Task.WhenAll(clients.Select((client, c) => Task.Run(async () =>
            {
                var random = new Random(seed + c);
                for (var i = 0; i < OpsEach; i++)
                {
                    var target = objects[random.Next(objects.Length)];
                    var roll = random.Next(10);
                    var marker = $"w{c}-{i}";
                    var (method, kind, body) = roll switch
                    {
                        < 3 => (HttpMethod.Put, "PUT", $$$"""{"nodes": {{{Nodes}}}, "labels": {"put": "{{{marker}}}"}}"""),
                        < 8 => (HttpMethod.Patch, "PATCH", $$$"""{"labels": {"{{{marker}}}": "1"}}"""),
                        _ => (HttpMethod.Delete, "DELETE", (string?)null),
                    };
                    var start = Stopwatch.GetTimestamp();
                    var reply = await AdminGateway.SendAsync(client, method, target, body);
                    var end = Stopwatch.GetTimestamp();
                    var op = new Op(c, i, target, kind, marker, start, end, reply.Status);
                    var allowed = kind switch
                    {
                        "PUT" => reply.Status is HttpStatusCode.OK or HttpStatusCode.Created,
                        // Never 201: a PATCH does not create.
                        "PATCH" => reply.Status is HttpStatusCode.OK or HttpStatusCode.NotFound,
                        _ => reply.Status is HttpStatusCode.OK or HttpStatusCode.NotFound,
                    };
                    Assert.True(allowed, $"{op}: {reply}");
                    history.Add(op);
                }
            })));
        }
        finally
        {
            foreach (var client in clients)
            {
                client.Dispose();
            }
        }

        foreach (var target in objects)
        {
            var ops = history.Where(o => o.Object == target && o.Succeeded).ToList();
            var final = await Gateway.GetAsync(target);
            var context = $"seed {seed}, {target}: final {final}";
            if (final.Status == HttpStatusCode.NotFound)
            {
                // Some acknowledged DELETE came last: no acknowledged PUT or PATCH began after it was answered.
                var lastDelete = ops.Where(o => o.Kind == "DELETE").ToList();
                Assert.True(
                    lastDelete.Exists(d => !ops.Exists(w => w.Kind != "DELETE" && w.Start > d.End)),
                    $"{context}: absent, but every acknowledged DELETE was followed by an acknowledged write that began after it");
                continue;
            }
            Assert.Equal(HttpStatusCode.OK, final.Status);
            var labels = final.Body!["value"]!["labels"]!.AsObject();
            var putMarker = labels["put"]?.GetValue<string>();
            var put = ops.SingleOrDefault(o => o.Kind == "PUT" && o.Marker == putMarker);
            Assert.True(put is not null, $"{context}: its PUT marker {putMarker} is not from an acknowledged PUT");
            // The PUT is the last whole write: no acknowledged PUT or DELETE began after it was answered.
            var later = ops.Where(o => o.Kind != "PATCH" && o != put && o.Start > put.End).ToList();
            Assert.True(later.Count == 0, $"{context}: {put} was answered before {string.Join("; ", later)} began, yet it is what is stored");
            foreach (var (name, _) in labels)
            {
                if (name == "put")
                {
                    continue;
                }
                // Each PATCH label is from an acknowledged PATCH that could come after the PUT.
                var patch = ops.SingleOrDefault(o => o.Kind == "PATCH" && o.Marker == name);
                Assert.True(patch is not null, $"{context}: label {name} is not from an acknowledged PATCH");
                Assert.True(patch.End > put.Start, $"{context}: {patch} was answered before {put} began, so the PUT replaced its label");
            }
            // No lost update: every PATCH acknowledged after the PUT was answered is in the end state.
            var lost = ops.Where(o => o.Kind == "PATCH" && o.Start > put.End && !labels.ContainsKey(o.Marker)).ToList();
            Assert.True(lost.Count == 0, $"{context}: acknowledged PATCHes lost: {string.Join("; ", lost)}");
        }
        var counts = history.GroupBy(o => $"{o.Kind} {(int)o.Status}").OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key}: {g.Count()}");
        output.WriteLine(string.Join(", ", counts));
    }
}
