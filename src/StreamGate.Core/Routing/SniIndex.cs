using System.Numerics;

namespace StreamGate.Routing;

/// <summary>Why a value is a candidate for a name.</summary>
internal enum SniMatchKind
{
    Exact,
    Wildcard,
    Any,

    /// <summary>The value has no pattern: it is tried after every pattern, or alone when the client sent no name.</summary>
    WithoutSni,
}

/// <summary>
/// Values filed under stream-route <c>sni</c> patterns, for the candidates of a TLS client's server name in the
/// order APISIX's stream router tries them (apisix/stream/router/ip_port.lua): the exact name, then wildcards from
/// the longest suffix to the shortest, then <c>*</c>, then the values without a pattern. Values under one pattern
/// keep their configuration order. The caller takes the first candidate whose other fields (remote_addr,
/// server_addr, server_port) hold, and falls through to the next otherwise, as APISIX does.
/// </summary>
/// <remarks>
/// Built once per snapshot; a lookup allocates nothing and costs one hash probe for the exact name and one walk of
/// the name from its end for the wildcards. The name is the client's as sent, ASCII case ignored and one trailing
/// dot dropped (both as APISIX's apisix/ssl.lua server_name); bytes that are not ASCII (UTF-8 of an IDN name not in
/// punycode) are compared as they are, so they never equal a pattern's but may stand before a wildcard's suffix.
/// A caller with many routes without sni may keep those in a <see cref="RouteTable"/> instead and use this
/// index for the ones with sni only.
/// </remarks>
internal sealed class SniIndex<T>
{
    private const int End = -1;

    private readonly T[] _values;

    // Candidates under one pattern as chains through _next in configuration order, as RouteTable keeps them.
    private readonly int[] _next;
    private readonly SniExactTable _exact;
    private readonly SniSuffixTrie _wildcards;
    private readonly int _withoutSniHead;

    /// <param name="entries">In configuration order; a null pattern is a value without sni.</param>
    public SniIndex(IReadOnlyList<(SniPattern? Pattern, T Value)> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        _values = new T[entries.Count];
        _next = new int[entries.Count];
        var exactHeads = new Dictionary<string, int>(StringComparer.Ordinal);
        var suffixHeads = new Dictionary<string, int>(StringComparer.Ordinal);
        var tails = new Dictionary<(SniPatternKind, string), int>();
        _withoutSniHead = End;
        var withoutSniTail = End;
        for (var i = 0; i < entries.Count; i++)
        {
            var (pattern, value) = entries[i];
            _values[i] = value;
            _next[i] = End;
            if (pattern is null)
            {
                if (withoutSniTail == End)
                {
                    _withoutSniHead = i;
                }
                else
                {
                    _next[withoutSniTail] = i;
                }
                withoutSniTail = i;
                continue;
            }
            // Any is the empty suffix: one trie serves every wildcard.
            var exact = pattern.Kind == SniPatternKind.Exact;
            var heads = exact ? exactHeads : suffixHeads;
            var tailKey = (exact ? SniPatternKind.Exact : SniPatternKind.Wildcard, pattern.Suffix);
            if (tails.TryGetValue(tailKey, out var tail))
            {
                _next[tail] = i;
            }
            else
            {
                heads[pattern.Suffix] = i;
            }
            tails[tailKey] = i;
        }
        _exact = new SniExactTable(exactHeads);
        _wildcards = new SniSuffixTrie(suffixHeads);
    }

    public int Count => _values.Length;

    /// <summary>The candidates for a server name as a TLS ClientHello carries it (ASCII, or UTF-8 bytes).</summary>
    public SniMatches<T> Match(ReadOnlySpan<byte> serverName) => MatchName(serverName);

    /// <summary>The candidates for a server name held as text (fallback_sni, a test).</summary>
    public SniMatches<T> Match(ReadOnlySpan<char> serverName) => MatchName(serverName);

    /// <summary>The candidates when the client sent no name: the values without a pattern only (APISIX skips its SNI router then).</summary>
    public SniMatches<T> MatchWithoutName() => new(this, End, SniSuffixTrie.None, withoutName: true);

    private SniMatches<T> MatchName<TUnit>(ReadOnlySpan<TUnit> name)
        where TUnit : unmanaged, IBinaryInteger<TUnit>
    {
        name = SniName.TrimTrailingDot(name);
        return new SniMatches<T>(this, _exact.Find(name), _wildcards.Deepest(name), withoutName: false);
    }

    internal T ValueAt(int index) => _values[index];

    internal int NextAt(int index) => _next[index];

    internal int WithoutSniHead => _withoutSniHead;

    internal SniSuffixTrie Wildcards => _wildcards;
}

/// <summary>A candidate: the value and why it is one.</summary>
internal readonly record struct SniMatch<T>(T Value, SniMatchKind Kind);

/// <summary>
/// The candidates of one lookup, best first; enumerate it with <c>foreach</c> (a struct: nothing is allocated) and
/// stop at the first that fits.
/// </summary>
internal struct SniMatches<T>
{
    private readonly SniIndex<T>? _index;
    private SniMatchKind _phase;
    private int _node;      // the wildcard node being tried, once in the wildcard phase
    private int _cursor;    // the next value of the current chain, or -1
    private int _current;
    private bool _done;

    internal SniMatches(SniIndex<T> index, int exactHead, int deepestWildcard, bool withoutName)
    {
        _index = index;
        _node = deepestWildcard;
        _current = -1;
        _done = false;
        if (withoutName)
        {
            _phase = SniMatchKind.WithoutSni;
            _cursor = index.WithoutSniHead;
        }
        else
        {
            _phase = SniMatchKind.Exact;
            _cursor = exactHead;
        }
    }

    /// <summary>The candidate <see cref="MoveNext"/> stopped at.</summary>
    public readonly SniMatch<T> Current => new(_index!.ValueAt(_current),
        _phase == SniMatchKind.Wildcard && SniSuffixTrie.IsRoot(_node) ? SniMatchKind.Any : _phase);

    public readonly SniMatches<T> GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_index is null || _done)
        {
            return false;
        }
        while (_cursor < 0)
        {
            switch (_phase)
            {
                case SniMatchKind.Exact:
                    _phase = SniMatchKind.Wildcard;
                    _cursor = _node == SniSuffixTrie.None ? -1 : _index.Wildcards.Value(_node);
                    break;
                case SniMatchKind.Wildcard when _node != SniSuffixTrie.None:
                    _node = _index.Wildcards.Up(_node);
                    _cursor = _node == SniSuffixTrie.None ? -1 : _index.Wildcards.Value(_node);
                    break;
                case SniMatchKind.Wildcard:
                    _phase = SniMatchKind.WithoutSni;
                    _cursor = _index.WithoutSniHead;
                    break;
                default:
                    _done = true;
                    return false;
            }
        }
        _current = _cursor;
        _cursor = _index.NextAt(_cursor);
        return true;
    }
}
