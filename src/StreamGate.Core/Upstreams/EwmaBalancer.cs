namespace StreamGate.Upstreams;

/// <summary>
/// Latency-aware balancing on connect time, after APISIX's <c>ewma</c> (balancer/ewma.lua, itself Finagle's peak EWMA),
/// which APISIX has only for HTTP: each node keeps an exponentially weighted moving average of its connect times
/// whose weight decays with time, not with sample count (<see cref="DecayMs"/>: a sample <c>t</c> ms after the
/// previous one counts for 1 - e^(-t/10 s)), so the average reflects the last seconds at any traffic rate. A pick
/// draws two distinct usable nodes of the highest usable priority group and takes the one of lower
/// (average + 1 ms) × (active + 1) / weight: power of two choices, so no node is stampeded when it looks best to
/// every loop at once.
/// <para>
/// Beyond APISIX: the score counts the connections in flight (a slow node piling up connections looks slower
/// before its samples arrive) and the weight; the 1 ms added to the average keeps those factors alive where
/// connect times are below the millisecond the session measures in (a LAN, loopback), which would otherwise make
/// every score 0. As in APISIX, a pick reads each candidate's average decayed toward 0 by the time since its last
/// sample, so a node left aside because it was slow looks better and better until it is tried again: the
/// balancer notices when it has recovered.
/// </para>
/// <para>
/// A failed attempt (refused, unreachable, timed out) is a sample of the upstream's connect timeout: a refusal
/// after 0.1 ms must not make a node look fast, and the timeout is what an attempt can cost at most. It weighs as
/// any sample does, by the time since the node's previous one: a node whose first attempt fails starts at the
/// timeout (with the default 60 s, about two minutes of decay before it looks like a 1 ms node again); one failure
/// 10 ms after a 5 ms success lifts the average to 65 ms, enough to lose every comparison with its peers for
/// seconds, and failures that go on pile up.
/// </para>
/// <para>
/// State lives in each node's <see cref="NodeState"/>, shared by all loops and by every build that keeps the node:
/// the average as a float (ms) in the high 32 bits of one long and the time of the update in the low 32 (ms, lowest
/// bit always set so that a sampled word is never 0). An update is a compare-and-swap of that word, so two loops
/// sampling the same node at once both land, one after the other, and no reader sees one's average with the
/// other's time. A time before the stored one (a loop whose clock read came just before another's update) counts
/// as no time passed. The 32-bit time wraps after 49.7 days and differences are read as signed: a node not sampled
/// for more than 24.8 days comes back with its old average, which the samples of the next seconds replace.
/// </para>
/// </summary>
internal sealed class EwmaBalancer : ILoadBalancer, IBalancerFeedback
{
    /// <summary>APISIX's DECAY_TIME (10 s).</summary>
    public const double DecayMs = 10_000;

    private readonly int[][] _groups;
    private readonly int[] _weights;
    private readonly NodeState[] _states;
    private readonly double _failurePenaltyMs;
    private readonly Func<long>? _clock;
    private readonly Func<int, int>? _random;
    private readonly PerLoop<ulong> _xorshift = new();

    /// <param name="failurePenaltyMs">The sample a failed attempt counts as: the upstream's connect timeout.</param>
    /// <param name="clock">Milliseconds, for tests; null is <see cref="Environment.TickCount64"/>.</param>
    /// <param name="random">A number from 0 to below its argument, for tests; null is a per-loop xorshift.</param>
    public EwmaBalancer(UpstreamNode[] nodes, NodeState[] states, long failurePenaltyMs, Func<long>? clock = null, Func<int, int>? random = null)
    {
        _groups = PriorityGroups.Of(nodes);
        _weights = [.. nodes.Select(n => n.Weight)];
        _states = states;
        _failurePenaltyMs = failurePenaltyMs;
        _clock = clock;
        _random = random;
        for (var loop = 0; loop < _xorshift.Count; loop++)
        {
            // Seeded once per build, off the data plane; xorshift needs a state other than 0.
            _xorshift[loop] = (ulong)Random.Shared.NextInt64() | 1;
        }
    }

    public IBalancerFeedback? Feedback => this;

    public int Pick(in PickContext context, in NodeFilter filter)
    {
        foreach (var group in _groups)
        {
            var node = PickIn(group, context.LoopIndex, in filter);
            if (node >= 0)
            {
                _states[node].Acquire(context.LoopIndex);
                return node;
            }
        }
        return -1;
    }

    private int PickIn(int[] group, int loop, in NodeFilter filter)
    {
        if (group.Length == 1)
        {
            return filter.Excludes(group[0]) ? -1 : group[0];
        }
        // Mostly nothing is excluded: two draws among the group are two draws among the usable nodes. Otherwise
        // draw again among the usable ones only; either way each pair of usable nodes is equally likely.
        var (a, b) = TwoDistinct(group.Length, loop);
        if (!filter.Excludes(group[a]) && !filter.Excludes(group[b]))
        {
            return Better(group[a], group[b]);
        }
        var usable = 0;
        foreach (var node in group)
        {
            if (!filter.Excludes(node))
            {
                usable++;
            }
        }
        if (usable < 2)
        {
            return usable == 0 ? -1 : FindUsable(group, 0, in filter);
        }
        (a, b) = TwoDistinct(usable, loop);
        return Better(FindUsable(group, a, in filter), FindUsable(group, b, in filter));
    }

    /// <summary>The <paramref name="index"/>th node of the group that the filter lets through (-1 if it changed meanwhile).</summary>
    private static int FindUsable(int[] group, int index, in NodeFilter filter)
    {
        foreach (var node in group)
        {
            if (!filter.Excludes(node) && index-- == 0)
            {
                return node;
            }
        }
        return -1;
    }

    private (int A, int B) TwoDistinct(int count, int loop)
    {
        var a = Below(count, loop);
        var b = Below(count - 1, loop);
        return (a, b >= a ? b + 1 : b);
    }

    /// <summary>The candidate of the lower score; <paramref name="a"/> on a tie (it was drawn at random too).</summary>
    private int Better(int a, int b)
    {
        if (a < 0 || b < 0)
        {
            // Health flipped between the count and the scan: whichever is left.
            return Math.Max(a, b);
        }
        var now = Now();
        // (ea + 1)(na + 1) / wa > (eb + 1)(nb + 1) / wb, multiplied out.
        var scoreA = (Average(a, now) + 1) * (_states[a].Active + 1.0) * _weights[b];
        var scoreB = (Average(b, now) + 1) * (_states[b].Active + 1.0) * _weights[a];
        return scoreA > scoreB ? b : a;
    }

    /// <summary>The node's average decayed toward 0 by the time since its last sample, as APISIX's score() reads it.</summary>
    private double Average(int node, long now)
    {
        var word = _states[node].ConnectTime;
        if (word == 0)
        {
            return 0;
        }
        var (average, at) = Unpack(word);
        return average * Math.Exp(-Elapsed(at, now) / DecayMs);
    }

    public void Connected(int node, long connectMs, int loopIndex) => Sample(node, connectMs);

    public void Failed(int node, bool timedOut, int loopIndex)
    {
        Sample(node, _failurePenaltyMs);
        _states[node].Release(loopIndex);
    }

    public void Released(int node, int loopIndex) => _states[node].Release(loopIndex);

    private void Sample(int node, double sampleMs)
    {
        var state = _states[node];
        var now = Now();
        while (true)
        {
            var word = state.ConnectTime;
            double average;
            if (word == 0)
            {
                average = sampleMs;
            }
            else
            {
                var (previous, at) = Unpack(word);
                var keep = Math.Exp(-Elapsed(at, now) / DecayMs);
                average = previous * keep + sampleMs * (1 - keep);
            }
            if (state.TryUpdateConnectTime(word, Pack(average, now)))
            {
                return;
            }
        }
    }

    private long Now() => _clock is null ? Environment.TickCount64 : _clock();

    private int Below(int bound, int loop)
    {
        if (_random is not null)
        {
            return _random(bound);
        }
        ref var x = ref _xorshift[loop];
        var v = x;
        v ^= v << 13;
        v ^= v >> 7;
        v ^= v << 17;
        x = v;
        // The high 32 bits scaled to [0, bound) by a multiplication (Lemire), not a division.
        return (int)(((v >> 32) * (ulong)bound) >> 32);
    }

    private static long Pack(double averageMs, long nowMs) =>
        ((long)BitConverter.SingleToInt32Bits((float)averageMs) << 32) | ((uint)nowMs | 1u);

    private static (double AverageMs, uint At) Unpack(long word) =>
        (BitConverter.Int32BitsToSingle((int)(word >> 32)), (uint)word);

    /// <summary>Milliseconds from a stored 32-bit time to now, never negative.</summary>
    private static double Elapsed(uint at, long now) => Math.Max(0, (int)((uint)now - at));
}
