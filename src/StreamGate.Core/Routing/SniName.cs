using System.Numerics;
using System.Runtime.CompilerServices;

namespace StreamGate.Routing;

/// <summary>ASCII case folding of a name's code units, as Lua's <c>string.lower</c> does it for APISIX (C locale).</summary>
internal static class SniName
{
    /// <summary>
    /// The unit lower-cased, or false when it is not ASCII. Patterns are ASCII, so a non-ASCII unit (a byte of
    /// UTF-8, or a char) never equals a pattern's; refusing it before narrowing keeps U+0161 from passing as 'a'.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryFold<TUnit>(TUnit unit, out uint folded)
        where TUnit : unmanaged, IBinaryInteger<TUnit>
    {
        folded = uint.CreateTruncating(unit);
        if (folded > 0x7F)
        {
            return false;
        }
        if (folded - 'A' <= 'Z' - 'A')
        {
            folded |= 0x20;
        }
        return true;
    }

    /// <summary>Without one trailing dot, as APISIX takes the client's name (apisix/ssl.lua, server_name).</summary>
    public static ReadOnlySpan<TUnit> TrimTrailingDot<TUnit>(ReadOnlySpan<TUnit> name)
        where TUnit : unmanaged, IBinaryInteger<TUnit> =>
        !name.IsEmpty && uint.CreateTruncating(name[^1]) == '.' ? name[..^1] : name;
}
