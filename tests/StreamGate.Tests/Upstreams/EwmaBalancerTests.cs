using StreamGate.Config;
using StreamGate.Upstreams;
using static StreamGate.Tests.TestData;
using static StreamGate.Tests.Upstreams.Balancing;

namespace StreamGate.Tests.Upstreams;

public class EwmaBalancerTests
{
    /// <summary>An ewma balancer on a clock and dice the test holds: connections come 10 ms apart and end at once.</summary>
    private sealed class Simulation
    {
        private readonly Random _dice = new(7);

        public Simulation(UpstreamNode[] nodes, long failurePenaltyMs = 60_000)
        {
            States = States(nodes.Length);
            Balancer = new EwmaBalancer(nodes, States, failurePenaltyMs, () => Now, n => _dice.Next(n));
        }

        public long Now { get; set; } = 1_000_000;

        public NodeState[] States { get; }

        public EwmaBalancer Balancer { get; }

        /// <summary>
        /// Connections one after the other, each connecting in <paramref name="connectMs"/>(node) ms, or failing when
        /// that is null; the counts per node of the picks made.
        /// </summary>
        public int[] Run(int connections, Func<int, long?> connectMs, int stepMs = 10)
        {
            var counts = new int[States.Length];
            for (var i = 0; i < connections; i++)
            {
                Now += stepMs;
                var node = Pick(Balancer);
                counts[node]++;
                if (connectMs(node) is { } ms)
                {
                    Balancer.Connected(node, ms, 0);
                    Balancer.Released(node, 0);
                }
                else
                {
                    Balancer.Failed(node, timedOut: false, 0);
                }
            }
            return counts;
        }
    }

    [Fact]
    public void TheFastNodeGetsTheConnections()
    {
        var sim = new Simulation(Nodes((1, 0), (1, 0)));
        long[] latency = [50, 2];
        sim.Run(100, n => latency[n]);
        var counts = sim.Run(1000, n => latency[n]);
        Assert.True(counts[1] >= 990, $"fast node got {counts[1]} of 1000");
    }

    [Fact]
    public void PowerOfTwoChoicesNeverStarvesTheSecondBest()
    {
        // Of three, the fastest wins every pair it is drawn in (2/3 of the picks); the second wins the rest, the
        // slowest only the rare pick that explores it again once its average has decayed.
        var sim = new Simulation(Nodes((1, 0), (1, 0), (1, 0)));
        long[] latency = [1, 20, 50];
        sim.Run(200, n => latency[n]);
        var counts = sim.Run(3000, n => latency[n]);
        Assert.InRange(counts[0], 1800, 2200);
        Assert.InRange(counts[1], 800, 1200);
        Assert.InRange(counts[2], 0, 20);
    }

    [Fact]
    public void TrafficShiftsAwayWhenTheFastNodeSlowsDownAndBackWhenItRecovers()
    {
        var sim = new Simulation(Nodes((1, 0), (1, 0)));
        long[] latency = [1, 20];
        Assert.True(sim.Run(1000, n => latency[n])[0] >= 990);

        // Node 0 slows to 100 ms: within a minute the connections are node 1's; node 0 is only probed now and then
        // (its average read decays toward 0 while it is left aside).
        latency[0] = 100;
        sim.Run(5000, n => latency[n]);
        var slowed = sim.Run(1000, n => latency[n]);
        Assert.True(slowed[1] >= 950, $"node 1 got {slowed[1]} of the last 1000");

        // Node 0 is fast again: a probe finds it out, and it takes the connections back.
        latency[0] = 1;
        sim.Run(5000, n => latency[n]);
        var recovered = sim.Run(1000, n => latency[n]);
        Assert.True(recovered[0] >= 950, $"node 0 got {recovered[0]} of the last 1000");
    }

    [Fact]
    public void AFailureCountsAsASampleOfTheConnectTimeout()
    {
        var sim = new Simulation(Nodes((1, 0), (1, 0)), failurePenaltyMs: 3000);
        sim.Run(200, _ => 5);
        // Node 0 refuses, at once: no faster than a success, yet it weighs as a 3 s connect.
        var tried = default(TriedNodes);
        tried.Add(1, 2);
        Assert.Equal(0, sim.Balancer.Pick(Client, new NodeFilter(in tried, null, false)));
        sim.Balancer.Failed(0, timedOut: false, 0);
        Assert.Equal(0, sim.States[0].Active);
        Assert.Equal(0, sim.Run(200, _ => 5)[0]);
    }

    [Fact]
    public void ANodeThatFailsFirstIsAvoidedUntilItsPenaltyDecays()
    {
        var sim = new Simulation(Nodes((1, 0), (1, 0)), failurePenaltyMs: 60_000);
        var tried = default(TriedNodes);
        tried.Add(1, 2);
        Assert.Equal(0, sim.Balancer.Pick(Client, new NodeFilter(in tried, null, false)));
        sim.Balancer.Failed(0, timedOut: true, 0);
        Assert.Equal(0, sim.Run(1000, n => 5)[0]);
    }

    [Fact]
    public void AnUnmeasuredNodeIsTriedFirst()
    {
        var sim = new Simulation(Nodes((1, 0), (1, 0)));
        sim.Balancer.Connected(0, 50, 0);
        Assert.Equal(1, Pick(sim.Balancer));
    }

    [Fact]
    public void ConnectionsInFlightAndWeightsCount()
    {
        // Equal averages (the clock stands still, so the first sample is the average): the score is
        // (active + 1) / weight, and held connections settle at the weights.
        var sim = new Simulation(Nodes((3, 0), (1, 0)));
        sim.Balancer.Connected(0, 5, 0);
        sim.Balancer.Connected(1, 5, 0);
        for (var i = 0; i < 40; i++)
        {
            var node = Pick(sim.Balancer);
            sim.Balancer.Connected(node, 5, 0);
        }
        Assert.Equal([30, 10], sim.States.Select(s => s.Active));
    }

    [Fact]
    public void SubMillisecondConnectsStillBalanceByLoad()
    {
        // Loopback connects measure 0 ms: the average is 0 everywhere, and the in-flight counts still decide.
        var sim = new Simulation(Nodes((1, 0), (1, 0), (1, 0)));
        for (var i = 0; i < 30; i++)
        {
            var node = Pick(sim.Balancer);
            sim.Balancer.Connected(node, 0, 0);
        }
        Assert.All(sim.States, s => Assert.InRange(s.Active, 8, 12));
    }

    [Fact]
    public void LoopsShareCountsAndAverages()
    {
        // Two threads as two loops, on the real clock and dice: every count comes back to 0, and each node's
        // average is its own samples', never a mix of two updates.
        var states = States(2);
        var balancer = new EwmaBalancer(Nodes((1, 0), (1, 0)), states, 1000);
        long[] latency = [10, 30];
        Parallel.For(0, 2, loop =>
        {
            for (var i = 0; i < 20_000; i++)
            {
                var tried = default(TriedNodes);
                var node = balancer.Pick(new PickContext(Client.Addresses, loop), new NodeFilter(in tried, null, false));
                balancer.Connected(node, latency[node], loop);
                balancer.Released(node, loop);
            }
        });
        Assert.Equal([0, 0], states.Select(s => s.Active));
        for (var node = 0; node < 2; node++)
        {
            Assert.Equal(latency[node], BitConverter.Int32BitsToSingle((int)(states[node].ConnectTime >> 32)), 0.01);
        }
    }

    [Fact]
    public void TheDefaultDiceSpreadEqualNodes()
    {
        // Production randomness: a per-loop xorshift. Unmeasured equal nodes tie, and the first draw wins.
        var balancer = new EwmaBalancer(Nodes((1, 0), (1, 0), (1, 0), (1, 0)), States(4), 1000);
        var counts = Counts(Enumerable.Range(0, 4000).Select(i => PickAndRelease(balancer, loopIndex: i % 3)), 4);
        Assert.All(counts, c => Assert.InRange(c, 800, 1200));
    }

    [Fact]
    public void AveragesSurviveARebuildThatKeepsTheNodes()
    {
        var config = new UpstreamConfig { Nodes = [], Type = "ewma" };
        var slow = Node(1000);
        var fast = Node(1001);
        NodeState slowState = new(), fastState = new();
        var first = new Upstream("u", [slow, fast], config, [slowState, fastState]);
        first.Connected(0, 80, 0);
        first.Connected(1, 2, 0);

        // Another build lists the nodes in another order and adds one; what was learned stays with each node.
        var second = new Upstream("u", [fast, Node(1002), slow], config, [fastState, new NodeState(), slowState], previous: first);
        var tried = default(TriedNodes);
        tried.Add(1, 3);
        var context = new PickContext(Client.Addresses, 0);
        Assert.Equal(0, second.Pick(context, in tried));
        Assert.Equal(1, fastState.Active);
    }
}
