using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using StreamGate.Routing;

namespace StreamGate.Upstreams;

/// <summary>
/// APISIX's <c>chash</c>: a consistent-hash ring (ketama's idea, as resty.chash builds it) per priority group. Each
/// node with a weight owns points on the ring in proportion to its weight; a connection's key is hashed and goes to
/// the owner of the first point at or after it. A node's points depend only on its host, port and weight, so adding
/// or removing one node of n moves only the keys that land on its points: about 1/n of them, and no other key.
/// A retry walks on along the ring to the next point whose owner this connection has not tried (APISIX's
/// <c>picker:next</c>); when every node of a group is excluded the next lower group's ring is asked with the same key.
/// The rings are built once per build of the upstream and never written after, so a pick is a hash, a binary
/// search and, mostly, one filter check: no lock, no state, nothing that a rebuild needs to carry over.
/// </summary>
internal sealed class ChashBalancer : ILoadBalancer
{
    /// <summary>Points per unit of weight: resty.chash's CONSISTENT_POINTS, as APISIX uses it.</summary>
    public const int PointsPerWeight = 160;

    /// <summary>
    /// The most points one ring holds (12 bytes each: 1.9 MiB, 18 steps of binary search). 1,024 units of weight
    /// after dividing by the weights' greatest common divisor, e.g. 100 nodes of weights 1 to 10, get their full
    /// 160 points per unit; beyond that every node's points are scaled down alike, which keeps the proportions but
    /// makes a change of the node set move a few more keys than 1/n.
    /// </summary>
    public const int MaxPointsPerRing = PointsPerWeight * 1024;

    private readonly Ring[] _rings;
    private readonly ChashKey _key;

    public ChashBalancer(UpstreamNode[] nodes, ChashKey key)
    {
        _key = key;
        var groups = PriorityGroups.Of(nodes);
        _rings = new Ring[groups.Length];
        for (var g = 0; g < groups.Length; g++)
        {
            _rings[g] = Ring.Build(nodes, groups[g]);
        }
    }

    public IBalancerFeedback? Feedback => null;

    /// <summary>Whether the key needs the address the client connected to (a wildcard listener then asks the kernel for it).</summary>
    public bool KeysOnServerAddress => _key.UsesServerAddress;

    public int Pick(in PickContext context, in NodeFilter filter)
    {
        var hash = _key.Hash(in context);
        foreach (var ring in _rings)
        {
            var node = ring.Find(hash, in filter);
            if (node >= 0)
            {
                return node;
            }
        }
        return -1;
    }

    /// <summary>One priority group's ring: points sorted ascending and, at the same index, the node owning each.</summary>
    private sealed class Ring
    {
        private readonly ulong[] _points;
        private readonly int[] _owners;
        private readonly int[] _members;

        private Ring(ulong[] points, int[] owners, int[] members)
        {
            _points = points;
            _owners = owners;
            _members = members;
        }

        public static Ring Build(UpstreamNode[] nodes, int[] members)
        {
            // Weights 100, 100, 200 are the same ring as 1, 1, 2 (resty.chash divides by the gcd too): the common
            // case of equal weights stays at 160 points per node whatever number is written.
            var gcd = 0;
            long units = 0;
            foreach (var i in members)
            {
                gcd = Gcd(gcd, nodes[i].Weight);
            }
            foreach (var i in members)
            {
                units += nodes[i].Weight / gcd;
            }
            var scaled = units * PointsPerWeight > MaxPointsPerRing;
            var counts = new int[members.Length];
            var total = 0;
            for (var m = 0; m < members.Length; m++)
            {
                long unitsOfNode = nodes[members[m]].Weight / gcd;
                counts[m] = scaled ? (int)Math.Max(1, unitsOfNode * MaxPointsPerRing / units) : (int)unitsOfNode * PointsPerWeight;
                total += counts[m];
            }
            var points = new ulong[total];
            var owners = new int[total];
            var at = 0;
            for (var m = 0; m < members.Length; m++)
            {
                var node = nodes[members[m]];
                var identity = KeyHash.Mix(KeyHash.Of(node.Host) ^ (ulong)node.Port);
                for (var j = 0; j < counts[m]; j++)
                {
                    // Point j of a node is the same in every build: a node keeps its place when others come and go.
                    points[at] = KeyHash.Mix(identity + (ulong)(j + 1) * KeyHash.Golden);
                    owners[at] = members[m];
                    at++;
                }
            }
            Array.Sort(points, owners);
            return new Ring(points, owners, members);
        }

        /// <summary>The owner of the first point at or after <paramref name="hash"/> that the filter lets through; -1 if none.</summary>
        public int Find(ulong hash, in NodeFilter filter)
        {
            var points = _points;
            var at = LowerBound(points, hash);
            if (at == points.Length)
            {
                at = 0;
            }
            var owner = _owners[at];
            if (!filter.Excludes(owner))
            {
                return owner;
            }
            // A retry, or an unhealthy owner. Walk on only if some member is left, so that a group whose nodes are
            // all excluded costs one pass over its members, not one over its points. The walk is still bounded by
            // one turn of the ring: health checks may mark the last usable member down while it runs.
            if (!AnyUsable(in filter))
            {
                return -1;
            }
            for (var step = 1; step < points.Length; step++)
            {
                if (++at == points.Length)
                {
                    at = 0;
                }
                owner = _owners[at];
                if (!filter.Excludes(owner))
                {
                    return owner;
                }
            }
            return -1;
        }

        private bool AnyUsable(in NodeFilter filter)
        {
            foreach (var member in _members)
            {
                if (!filter.Excludes(member))
                {
                    return true;
                }
            }
            return false;
        }

        private static int LowerBound(ulong[] points, ulong value)
        {
            int low = 0, high = points.Length;
            while (low < high)
            {
                var mid = (int)((uint)(low + high) >> 1);
                if (points[mid] < value)
                {
                    low = mid + 1;
                }
                else
                {
                    high = mid;
                }
            }
            return low;
        }

        private static int Gcd(int a, int b)
        {
            while (b != 0)
            {
                (a, b) = (b, a % b);
            }
            return a;
        }
    }
}

/// <summary>
/// What a chash upstream hashes a connection on, from its <c>hash_on</c> and <c>key</c>, resolved once per build:
/// <c>vars</c> names one of <see cref="Names"/>; <c>vars_combinations</c> writes several as <c>$remote_addr$remote_port</c>.
/// A key with no value (no <c>mqtt_client_id</c> on this connection, a variable a stream connection does not have,
/// <c>hash_on</c> header, cookie or consumer, which a stream connection has none of) hashes on remote_addr, as
/// APISIX's chash does when its key fetches nil.
/// </summary>
internal sealed class ChashKey
{
    /// <summary>The connection variables a stream key can name.</summary>
    public static readonly string[] Names = ["remote_addr", "remote_port", "server_addr", "server_port", "mqtt_client_id"];

    public static readonly ChashKey RemoteAddress = new([Part.RemoteAddr]);

    private readonly Part[] _parts;

    private ChashKey(Part[] parts) => _parts = parts;

    private enum Part : byte
    {
        RemoteAddr,
        RemotePort,
        ServerAddr,
        ServerPort,
        MqttClientId,
    }

    public bool UsesServerAddress => Array.IndexOf(_parts, Part.ServerAddr) >= 0;

    /// <param name="hashOn">null means APISIX's default, vars.</param>
    public static ChashKey Parse(string? hashOn, string? key)
    {
        switch (hashOn ?? "vars")
        {
            case "vars":
                return PartOf(key) is { } part ? new ChashKey([part]) : RemoteAddress;
            case "vars_combinations":
                var parts = new List<Part>();
                foreach (var name in VariableNames(key ?? ""))
                {
                    if (PartOf(name) is { } found)
                    {
                        parts.Add(found);
                    }
                }
                // Text around the variables is the same for every connection: it would change no key's place.
                return parts.Count > 0 ? new ChashKey([.. parts]) : RemoteAddress;
            default:
                return RemoteAddress;
        }
    }

    public ulong Hash(in PickContext context)
    {
        var parts = _parts;
        if (parts.Length == 1)
        {
            return TryHash(parts[0], in context, out var single) ? single : KeyHash.Of(context.Addresses.RemoteAddress);
        }
        // A variable without a value adds nothing, as it adds "" to APISIX's resolved string: "$remote_port$mqtt_client_id"
        // without a client id hashes as "$remote_port" does. The rotation keeps the order: ports a, b differ from b, a.
        ulong hash = 0;
        var resolved = false;
        foreach (var part in parts)
        {
            if (TryHash(part, in context, out var value))
            {
                hash = resolved ? KeyHash.Mix(BitOperations.RotateLeft(hash, 29) ^ value) : value;
                resolved = true;
            }
        }
        return resolved ? hash : KeyHash.Of(context.Addresses.RemoteAddress);
    }

    private static bool TryHash(Part part, in PickContext context, out ulong hash)
    {
        switch (part)
        {
            case Part.RemoteAddr:
                hash = KeyHash.Of(context.Addresses.RemoteAddress);
                return true;
            case Part.RemotePort:
                hash = KeyHash.Mix((ulong)context.Addresses.RemotePort);
                return true;
            case Part.ServerAddr:
                hash = KeyHash.Of(context.Addresses.ServerAddress);
                return true;
            case Part.ServerPort:
                hash = KeyHash.Mix((ulong)context.Addresses.ServerPort);
                return true;
            default:
                if (context.HashKey is { } key)
                {
                    hash = KeyHash.Of(key);
                    return true;
                }
                hash = 0;
                return false;
        }
    }

    private static Part? PartOf(string? name) => name switch
    {
        "remote_addr" => Part.RemoteAddr,
        "remote_port" => Part.RemotePort,
        "server_addr" => Part.ServerAddr,
        "server_port" => Part.ServerPort,
        "mqtt_client_id" => Part.MqttClientId,
        _ => null,
    };

    /// <summary>The names of <c>$name</c> and <c>${name}</c> in a vars_combinations key, as APISIX's resolve_var finds them.</summary>
    private static IEnumerable<string> VariableNames(string key)
    {
        for (var i = 0; i < key.Length; i++)
        {
            if (key[i] != '$')
            {
                continue;
            }
            var braced = i + 1 < key.Length && key[i + 1] == '{';
            var start = braced ? i + 2 : i + 1;
            var end = start;
            while (end < key.Length && (char.IsAsciiLetterOrDigit(key[end]) || key[end] == '_'))
            {
                end++;
            }
            if (end > start && (!braced || (end < key.Length && key[end] == '}')))
            {
                yield return key[start..end];
            }
            i = end - 1;
        }
    }
}

/// <summary>
/// The hashes chash keys and ring points are made of. Keys are small (an address is two longs, a port one int, an
/// MQTT client id a few dozen characters), so a strong 64-bit finalizer over each 8 bytes spreads them as well as a
/// general-purpose hash would, costs two multiplications a word, and needs no package. Not for untrusted input
/// where collisions matter: a client choosing its own key can always choose which node it lands on.
/// </summary>
internal static class KeyHash
{
    /// <summary>2^64 / φ: consecutive multiples of it are spread evenly over 64 bits (Fibonacci hashing).</summary>
    public const ulong Golden = 0x9E37_79B9_7F4A_7C15;

    /// <summary>MurmurHash3's fmix64 finalizer: a bijection in which every input bit flips about half the output bits.</summary>
    public static ulong Mix(ulong x)
    {
        x ^= x >> 33;
        x *= 0xFF51_AFD7_ED55_8CCD;
        x ^= x >> 33;
        x *= 0xC4CE_B9FE_1A85_EC53;
        x ^= x >> 33;
        return x;
    }

    public static ulong Of(IpAddr address) => Mix(Mix(address.High) ^ address.Low);

    public static ulong Of(string text)
    {
        var bytes = MemoryMarshal.AsBytes(text.AsSpan());
        // The length goes in first, so "a" and "a\0" (the same bytes once the tail is zero-padded) differ.
        var hash = Mix((ulong)bytes.Length * Golden);
        while (bytes.Length >= sizeof(ulong))
        {
            hash = Mix(hash ^ BinaryPrimitives.ReadUInt64LittleEndian(bytes));
            bytes = bytes[sizeof(ulong)..];
        }
        if (bytes.Length > 0)
        {
            ulong tail = 0;
            for (var i = 0; i < bytes.Length; i++)
            {
                tail |= (ulong)bytes[i] << (8 * i);
            }
            hash = Mix(hash ^ tail);
        }
        return hash;
    }
}
