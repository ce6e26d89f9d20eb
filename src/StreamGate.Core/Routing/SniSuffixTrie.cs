using System.Numerics;

namespace StreamGate.Routing;

/// <summary>
/// Wildcard suffixes (the text after <c>*</c>, lower-cased ASCII) in a trie read from a name's last byte to its
/// first, as APISIX's stream router reverses names into a radix tree. One walk down a name finds the deepest
/// suffix it ends with; <see cref="Up"/> then gives the shorter ones, so candidates come longest suffix first and
/// <c>*</c> (the empty suffix, the root) last, as the radix tree's walk up from its longest prefix does. A suffix
/// need not start at a label (<c>*ample.com</c> is a valid pattern), so the trie is by byte, not by label.
/// </summary>
internal sealed class SniSuffixTrie
{
    public const int None = -1;

    private const int Root = 0;

    // Edges are keyed (parent << 8) | byte in 32 bits.
    private const int MaxNodes = 1 << 24;

    private readonly int[] _parent;
    private readonly int[] _value;      // the value filed under the suffix this node spells, or None
    private readonly int[] _valuedSelfOrAncestor;
    private readonly uint[] _edgeKeys;
    private readonly int[] _edgeChildren;   // 0 is an empty slot (the root is nobody's child)
    private readonly int _edgeShift;
    private readonly bool _hasEdges;

    public SniSuffixTrie(IReadOnlyCollection<KeyValuePair<string, int>> suffixes)
    {
        var parents = new List<int> { None };
        var values = new List<int> { None };
        var edges = new Dictionary<uint, int>();
        foreach (var (suffix, value) in suffixes)
        {
            var node = Root;
            for (var i = suffix.Length - 1; i >= 0; i--)
            {
                var key = EdgeKey(node, suffix[i]);
                if (!edges.TryGetValue(key, out var child))
                {
                    if (parents.Count == MaxNodes)
                    {
                        throw new InvalidOperationException($"more than {MaxNodes} distinct wildcard suffix bytes");
                    }
                    child = parents.Count;
                    parents.Add(node);
                    values.Add(None);
                    edges.Add(key, child);
                }
                node = child;
            }
            values[node] = value;
        }

        _parent = [.. parents];
        _value = [.. values];
        // A child is always created after its parent, so one pass in creation order settles every node.
        _valuedSelfOrAncestor = new int[_parent.Length];
        for (var node = 0; node < _parent.Length; node++)
        {
            _valuedSelfOrAncestor[node] = _value[node] != None ? node
                : node == Root ? None : _valuedSelfOrAncestor[_parent[node]];
        }

        // At most half full, so a probe for a byte no suffix continues with ends at an empty slot soon.
        var capacity = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(2, edges.Count * 2));
        _edgeShift = 32 - BitOperations.Log2((uint)capacity);
        _edgeKeys = new uint[capacity];
        _edgeChildren = new int[capacity];
        foreach (var (key, child) in edges)
        {
            var slot = Slot(key);
            while (_edgeChildren[slot] != 0)
            {
                slot = (slot + 1) & (capacity - 1);
            }
            _edgeKeys[slot] = key;
            _edgeChildren[slot] = child;
        }
        _hasEdges = edges.Count > 0;
    }

    /// <summary>The deepest node whose suffix <paramref name="name"/> ends with (compared without regard to ASCII case), or <see cref="None"/>.</summary>
    public int Deepest<TUnit>(ReadOnlySpan<TUnit> name)
        where TUnit : unmanaged, IBinaryInteger<TUnit>
    {
        var node = Root;
        if (_hasEdges)
        {
            for (var i = name.Length - 1; i >= 0; i--)
            {
                if (!SniName.TryFold(name[i], out var folded))
                {
                    break;
                }
                var child = Child(node, folded);
                if (child == 0)
                {
                    break;
                }
                node = child;
            }
        }
        return _valuedSelfOrAncestor[node];
    }

    /// <summary>The value filed under <paramref name="node"/>'s suffix.</summary>
    public int Value(int node) => _value[node];

    /// <summary>The next shorter suffix with a value (the nearest valued ancestor), or <see cref="None"/> after the root.</summary>
    public int Up(int node) => node == Root ? None : _valuedSelfOrAncestor[_parent[node]];

    /// <summary>Whether <paramref name="node"/> is the root: the empty suffix, the pattern <c>*</c>.</summary>
    public static bool IsRoot(int node) => node == Root;

    private int Child(int node, uint folded)
    {
        var key = EdgeKey(node, folded);
        var mask = _edgeKeys.Length - 1;
        for (var slot = Slot(key); ; slot = (slot + 1) & mask)
        {
            var child = _edgeChildren[slot];
            if (child == 0 || _edgeKeys[slot] == key)
            {
                return child;
            }
        }
    }

    private static uint EdgeKey(int node, uint unit) => ((uint)node << 8) | unit;

    // Fibonacci hashing: the high bits of the product mix the node and the byte.
    private int Slot(uint key) => (int)((key * 0x9E3779B9u) >> _edgeShift);
}
