using System.Diagnostics;
using System.Numerics;

namespace StreamGate.Routing;

/// <summary>
/// Lower-cased ASCII host names mapped to an int, looked up by a name in any case, as UTF-8 bytes or as chars,
/// without allocating: open addressing with linear probing over keys stored back to back in one array.
/// </summary>
internal sealed class SniExactTable
{
    private readonly byte[] _keys;
    private readonly int[] _keyStarts;  // entry i's key is _keys[_keyStarts[i] .. _keyStarts[i + 1]]
    private readonly int[] _values;
    private readonly int[] _slots;      // entry + 1; 0 is an empty slot
    private readonly uint[] _slotHashes;
    private readonly int _mask;

    public SniExactTable(IReadOnlyCollection<KeyValuePair<string, int>> entries)
    {
        var count = entries.Count;
        _values = new int[count];
        _keyStarts = new int[count + 1];
        var length = 0;
        foreach (var (key, _) in entries)
        {
            length += key.Length;
        }
        _keys = new byte[length];
        // At most half full: a miss (the common answer for a name only wildcards serve) ends at an empty slot soon.
        var capacity = (int)BitOperations.RoundUpToPowerOf2((uint)Math.Max(2, count * 2));
        _slots = new int[capacity];
        _slotHashes = new uint[capacity];
        _mask = capacity - 1;
        var entry = 0;
        var offset = 0;
        foreach (var (key, value) in entries)
        {
            _keyStarts[entry] = offset;
            foreach (var c in key)
            {
                Debug.Assert(c <= 0x7F && !char.IsAsciiLetterUpper(c), "keys are lower-cased ASCII");
                _keys[offset++] = (byte)c;
            }
            _values[entry] = value;
            var hash = Hash(key.AsSpan());
            var slot = (int)hash & _mask;
            while (_slots[slot] != 0)
            {
                slot = (slot + 1) & _mask;
            }
            _slots[slot] = entry + 1;
            _slotHashes[slot] = hash;
            entry++;
        }
        _keyStarts[entry] = offset;
    }

    public int Count => _values.Length;

    /// <summary>The value filed under <paramref name="name"/> (compared without regard to ASCII case), or -1.</summary>
    public int Find<TUnit>(ReadOnlySpan<TUnit> name)
        where TUnit : unmanaged, IBinaryInteger<TUnit>
    {
        if (_values.Length == 0 || !TryHash(name, out var hash))
        {
            return -1;
        }
        for (var slot = (int)hash & _mask; ; slot = (slot + 1) & _mask)
        {
            var entry = _slots[slot] - 1;
            if (entry < 0)
            {
                return -1;
            }
            if (_slotHashes[slot] == hash && KeyEquals(entry, name))
            {
                return _values[entry];
            }
        }
    }

    private bool KeyEquals<TUnit>(int entry, ReadOnlySpan<TUnit> name)
        where TUnit : unmanaged, IBinaryInteger<TUnit>
    {
        var start = _keyStarts[entry];
        if (_keyStarts[entry + 1] - start != name.Length)
        {
            return false;
        }
        var key = _keys.AsSpan(start, name.Length);
        for (var i = 0; i < key.Length; i++)
        {
            // TryHash has seen every unit to be ASCII.
            SniName.TryFold(name[i], out var folded);
            if (folded != key[i])
            {
                return false;
            }
        }
        return true;
    }

    private static uint Hash(ReadOnlySpan<char> key)
    {
        TryHash(key, out var hash);
        return hash;
    }

    /// <summary>FNV-1a over the folded units, then a finalizer so that the low bits (the slot) depend on every unit; false for a non-ASCII name.</summary>
    private static bool TryHash<TUnit>(ReadOnlySpan<TUnit> name, out uint hash)
        where TUnit : unmanaged, IBinaryInteger<TUnit>
    {
        hash = 2166136261;
        foreach (var unit in name)
        {
            if (!SniName.TryFold(unit, out var folded))
            {
                return false;
            }
            hash = (hash ^ folded) * 16777619;
        }
        hash ^= hash >> 16;
        hash *= 0x7FEB352D;
        hash ^= hash >> 15;
        return true;
    }
}
