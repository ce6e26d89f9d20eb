using StreamGate.Config;
using StreamGate.Upstreams;
using static StreamGate.Tests.TestData;
using static StreamGate.Tests.Upstreams.Balancing;

namespace StreamGate.Tests.Upstreams;

public class ChashBalancerTests
{
    private const int Keys = 10_000;

    private static ChashBalancer Chash(UpstreamNode[] nodes, string? key = "remote_addr", string? hashOn = null) =>
        new(nodes, ChashKey.Parse(hashOn, key));

    private static UpstreamNode[] Ports(IEnumerable<int> ports) => [.. ports.Select(p => Node(p))];

    /// <summary>Client i of 10,000: a distinct remote address (and port, and MQTT client id).</summary>
    private static PickContext Client(int i, string? clientId = null) =>
        new(Connection($"10.{i / 65536}.{i / 256 % 256}.{i % 256}", "192.0.2.1", 9100, remotePort: 20000 + i), 0, clientId);

    /// <summary>The port of the node each of the 10,000 clients lands on: a node's identity across builds.</summary>
    private static int[] Placement(ChashBalancer balancer, UpstreamNode[] nodes) =>
        [.. Enumerable.Range(0, Keys).Select(i => nodes[Pick(balancer, Client(i))].Port)];

    [Fact]
    public void TheSameKeyAlwaysGoesToTheSameNode()
    {
        var nodes = Ports(Enumerable.Range(1000, 10));
        var balancer = Chash(nodes);
        var reversed = nodes.Reverse().ToArray();
        var reversedBalancer = Chash(reversed);
        for (var i = 0; i < 100; i++)
        {
            var first = Pick(balancer, Client(i));
            Assert.Equal(first, Pick(balancer, Client(i)));
            // Another build of the same nodes, even listed in another order, is the same ring.
            Assert.Equal(nodes[first].Port, reversed[Pick(reversedBalancer, Client(i))].Port);
        }
    }

    [Fact]
    public void KeysSpreadEvenlyOverEqualNodes()
    {
        var nodes = Ports(Enumerable.Range(1000, 10));
        var balancer = Chash(nodes);
        var counts = Counts(Enumerable.Range(0, Keys).Select(i => Pick(balancer, Client(i))), 10);
        // 160 points a node: each share is within about a third of the fair 1,000.
        Assert.All(counts, c => Assert.InRange(c, 650, 1350));
    }

    [Fact]
    public void KeysFollowTheWeights()
    {
        var balancer = Chash([Node(1000, weight: 1), Node(1001, weight: 3)]);
        var counts = Counts(Enumerable.Range(0, Keys).Select(i => Pick(balancer, Client(i))), 2);
        Assert.InRange(counts[1] / (double)Keys, 0.68, 0.82);
    }

    [Fact]
    public void RemovingOneNodeOfTenMovesOnlyItsKeys()
    {
        var nodes = Ports(Enumerable.Range(1000, 10));
        var before = Placement(Chash(nodes), nodes);
        var fewer = nodes.Where(n => n.Port != 1003).ToArray();
        var after = Placement(Chash(fewer), fewer);

        var moved = 0;
        for (var i = 0; i < Keys; i++)
        {
            if (before[i] != after[i])
            {
                Assert.Equal(1003, before[i]);
                moved++;
            }
        }
        Assert.Equal(before.Count(p => p == 1003), moved);
        // About 1/n: ~10% of the keys.
        Assert.InRange(moved / (double)Keys, 0.5 / 10, 1.5 / 10);
    }

    [Fact]
    public void AddingOneNodeToTenMovesOnlyKeysToIt()
    {
        var nodes = Ports(Enumerable.Range(1000, 10));
        var before = Placement(Chash(nodes), nodes);
        var more = Ports(Enumerable.Range(1000, 11));
        var after = Placement(Chash(more), more);

        var moved = 0;
        for (var i = 0; i < Keys; i++)
        {
            if (before[i] != after[i])
            {
                Assert.Equal(1010, after[i]);
                moved++;
            }
        }
        // About 1/(n+1): ~9% of the keys.
        Assert.InRange(moved / (double)Keys, 0.5 / 11, 1.5 / 11);
    }

    [Fact]
    public void EqualWeightsOfAnyValueAreTheSameRing()
    {
        var ones = Ports(Enumerable.Range(1000, 5));
        var hundreds = Enumerable.Range(1000, 5).Select(p => Node(p, weight: 100)).ToArray();
        Assert.Equal(Placement(Chash(ones), ones), Placement(Chash(hundreds), hundreds));
    }

    [Fact]
    public void HugeWeightsAreScaledDownKeepingTheirProportions()
    {
        var balancer = Chash([Node(1000, weight: 1_000_000), Node(1001, weight: 3_000_001)]);
        var counts = Counts(Enumerable.Range(0, Keys).Select(i => Pick(balancer, Client(i))), 2);
        Assert.InRange(counts[1] / (double)Keys, 0.70, 0.80);
    }

    [Fact]
    public void ARetryWalksOnToTheNextNodeOnTheRing()
    {
        var nodes = Ports(Enumerable.Range(1000, 10));
        var balancer = Chash(nodes);
        for (var i = 0; i < 200; i++)
        {
            var context = Client(i);
            var tried = default(TriedNodes);
            var first = balancer.Pick(context, new NodeFilter(in tried, null, false));
            tried.Add(first, nodes.Length);
            var second = balancer.Pick(context, new NodeFilter(in tried, null, false));
            Assert.NotEqual(first, second);
            // The node a retry goes to is where the key lands once the first node is gone: the ring's next owner.
            var without = nodes.Where((_, n) => n != first).ToArray();
            Assert.Equal(nodes[second].Port, without[Pick(Chash(without), context)].Port);
            // And the same for the same key every time.
            Assert.Equal(second, balancer.Pick(context, new NodeFilter(in tried, null, false)));
        }
    }

    [Fact]
    public void EachKeyNameHashesItsOwnValue()
    {
        var nodes = Ports(Enumerable.Range(1000, 10));
        // Clients that differ only in remote_port: remote_addr puts them together, remote_port spreads them.
        PickContext SamePlace(int port) => new(Connection("10.9.9.9", "192.0.2.1", 9100, remotePort: port), 0);
        var remoteAddr = Chash(nodes, "remote_addr");
        var remotePort = Chash(nodes, "remote_port");
        var byAddress = Enumerable.Range(30000, 200).Select(p => Pick(remoteAddr, SamePlace(p))).Distinct().Count();
        var byPort = Enumerable.Range(30000, 200).Select(p => Pick(remotePort, SamePlace(p))).Distinct().Count();
        Assert.Equal(1, byAddress);
        Assert.True(byPort >= 8, $"remote_port reached {byPort} nodes");

        // server_port and server_addr: what the client connected to, whoever the client is.
        var serverPort = Chash(nodes, "server_port");
        var serverAddr = Chash(nodes, "server_addr");
        var onPort = Enumerable.Range(0, 200).Select(i => Pick(serverPort, Client(i))).Distinct().Count();
        var onServer = Enumerable.Range(0, 200).Select(i => Pick(serverAddr, Client(i))).Distinct().Count();
        Assert.Equal(1, onPort);
        Assert.Equal(1, onServer);
        Assert.True(serverAddr.KeysOnServerAddress);
        Assert.False(Chash(nodes, "server_port").KeysOnServerAddress);
    }

    [Fact]
    public void MqttClientIdIsTheHashKey()
    {
        var nodes = Ports(Enumerable.Range(1000, 10));
        var balancer = Chash(nodes, "mqtt_client_id");
        // One client id from many addresses: one node.
        Assert.Single(Enumerable.Range(0, 200).Select(i => Pick(balancer, Client(i, "sensor-17"))).Distinct());
        // Many client ids from one address: many nodes.
        var spread = Enumerable.Range(0, 200).Select(i => Pick(balancer, Client(5, $"sensor-{i}"))).Distinct().Count();
        Assert.True(spread >= 8, $"client ids reached {spread} nodes");
    }

    [Fact]
    public void AKeyWithoutValueFallsBackToRemoteAddr()
    {
        var nodes = Ports(Enumerable.Range(1000, 10));
        var byAddress = Chash(nodes, "remote_addr");
        foreach (var balancer in new[]
        {
            Chash(nodes, "mqtt_client_id"), // no client id on these connections (HashKey null)
            Chash(nodes, "uri"), // an HTTP variable: a stream connection has none
            Chash(nodes, null),
            Chash(nodes, "X-User", hashOn: "header"),
            Chash(nodes, "sid", hashOn: "cookie"),
            Chash(nodes, null, hashOn: "consumer"),
            Chash(nodes, "$mqtt_client_id", hashOn: "vars_combinations"),
        })
        {
            for (var i = 0; i < 300; i++)
            {
                Assert.Equal(Pick(byAddress, Client(i)), Pick(balancer, Client(i)));
            }
        }
    }

    [Fact]
    public void VarsCombinationsHashEveryVariableNamed()
    {
        var nodes = Ports(Enumerable.Range(1000, 10));
        var balancer = Chash(nodes, "$remote_addr:${server_port}", hashOn: "vars_combinations");
        PickContext At(string remote, int serverPort) => new(Connection(remote, "192.0.2.1", serverPort), 0);
        // The same pair, the same node; the address alone no longer decides.
        Assert.Equal(Pick(balancer, At("10.0.0.1", 9100)), Pick(balancer, At("10.0.0.1", 9100)));
        var perPort = Enumerable.Range(9000, 100).Select(p => Pick(balancer, At("10.0.0.1", p))).Distinct().Count();
        Assert.True(perPort >= 8, $"server ports reached {perPort} nodes");
        // A missing client id among resolved variables is skipped, not a reason to fall back.
        var withId = Chash(nodes, "$remote_port$mqtt_client_id", hashOn: "vars_combinations");
        var portOnly = Chash(nodes, "$remote_port", hashOn: "vars_combinations");
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(Pick(portOnly, Client(i)), Pick(withId, Client(i)));
        }
    }

    [Fact]
    public void EachPriorityGroupHasItsOwnRing()
    {
        // The backup group's ring places keys among the backups as if the primaries did not exist.
        var nodes = new[] { Node(1000, 1, 1), Node(1001, 1, 1), Node(2000, 1, 0), Node(2001, 1, 0), Node(2002, 1, 0) };
        var backups = nodes[2..];
        var balancer = Chash(nodes);
        var alone = Chash(backups);
        for (var i = 0; i < 300; i++)
        {
            var tried = default(TriedNodes);
            var context = Client(i);
            var primary = balancer.Pick(context, new NodeFilter(in tried, null, false));
            Assert.True(primary is 0 or 1);
            tried.Add(0, 5);
            tried.Add(1, 5);
            var backup = balancer.Pick(context, new NodeFilter(in tried, null, false));
            Assert.Equal(backups[Pick(alone, context)].Port, nodes[backup].Port);
        }
    }

    [Fact]
    public void AnUpstreamBuiltAgainPlacesKeysAsBefore()
    {
        var config = new UpstreamConfig { Nodes = [], Type = "chash", Key = "remote_addr" };
        var nodes = Ports(Enumerable.Range(1000, 4));
        var states = States(4);
        var first = new Upstream("u", nodes, config, states);
        var second = new Upstream("u", nodes, config, states, previous: first);
        for (var i = 0; i < 300; i++)
        {
            var tried = default(TriedNodes);
            Assert.Equal(first.Pick(Client(i), in tried), second.Pick(Client(i), in tried));
        }
        Assert.Null(second.Balancer.Feedback);
    }

    [Fact]
    public void HashesOfNearbyValuesAreFarApart()
    {
        // The finalizer's avalanche: neighbouring addresses and ports differ in about half their hash bits.
        var bits = 0;
        for (var i = 0; i < 1000; i++)
        {
            bits += (int)ulong.PopCount(KeyHash.Mix((ulong)i) ^ KeyHash.Mix((ulong)i + 1));
            bits += (int)ulong.PopCount(KeyHash.Of(Ip($"10.0.{i / 256}.{i % 256}")) ^ KeyHash.Of(Ip($"10.0.{(i + 1) / 256}.{(i + 1) % 256}")));
        }
        Assert.InRange(bits / 2000.0, 28, 36);
        Assert.NotEqual(KeyHash.Of("a"), KeyHash.Of("a\0"));
        Assert.NotEqual(KeyHash.Of(""), KeyHash.Of("\0"));
        Assert.Equal(KeyHash.Of("sensor-17"), KeyHash.Of(new string("sensor-17".AsSpan())));
    }
}
