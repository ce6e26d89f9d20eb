using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace StreamGate.Routing;

/// <summary>
/// An IP address as two 64-bit halves, IPv4 held in its IPv4-mapped IPv6 form (::ffff:a.b.c.d), so that a
/// dual-stack listener's clients and IPv4 rules compare alike. A value type: matching a connection against
/// thousands of CIDR rules allocates nothing.
/// </summary>
internal readonly struct IpAddr : IEquatable<IpAddr>
{
    private const ulong V4MappedHigh = 0;
    private const ulong V4MappedLowPrefix = 0x0000_FFFF_0000_0000UL;

    public IpAddr(ulong high, ulong low)
    {
        High = high;
        Low = low;
    }

    public ulong High { get; }

    public ulong Low { get; }

    public bool IsV4 => High == V4MappedHigh && (Low & 0xFFFF_FFFF_0000_0000UL) == V4MappedLowPrefix;

    public static IpAddr FromV4(uint addressHostOrder) => new(V4MappedHigh, V4MappedLowPrefix | addressHostOrder);

    /// <summary>From the 16 network-order bytes of an IPv6 address.</summary>
    public static IpAddr FromV6(ReadOnlySpan<byte> bytes) =>
        new(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]));

    public static IpAddr From(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[16];
        if (address.AddressFamily == AddressFamily.InterNetwork)
        {
            address.TryWriteBytes(bytes, out _);
            return FromV4(BinaryPrimitives.ReadUInt32BigEndian(bytes));
        }
        address.TryWriteBytes(bytes, out _);
        return FromV6(bytes);
    }

    /// <summary>
    /// A dotted-quad IPv4 address or a plain IPv6 address, as APISIX's ipv4/ipv6 formats (and inet_pton) take them.
    /// IPAddress.TryParse alone also takes inet_aton's shorthand ("10" = 0.0.0.10, "127.1", octal "010.0.0.1" =
    /// 8.0.0.1, hex) and "[::1]:80", which would match other addresses than the ones meant: an IPv4 address must
    /// be written as it prints, and an IPv6 address without brackets, port or zone.
    /// </summary>
    public static bool TryParse(string text, out IpAddr address)
    {
        if (IPAddress.TryParse(text, out var parsed) && text.AsSpan().IndexOfAny('%', '[', ']') < 0 &&
            (parsed.AddressFamily == AddressFamily.InterNetworkV6 || parsed.ToString() == text))
        {
            address = From(parsed);
            return true;
        }
        address = default;
        return false;
    }

    public IPAddress ToIPAddress()
    {
        if (IsV4)
        {
            return new IPAddress(BinaryPrimitives.ReverseEndianness((uint)Low));
        }
        Span<byte> bytes = stackalloc byte[16];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, High);
        BinaryPrimitives.WriteUInt64BigEndian(bytes[8..], Low);
        return new IPAddress(bytes);
    }

    /// <summary>Room enough for any address <see cref="TryFormat(Span{byte}, out int)"/> writes (INET6_ADDRSTRLEN without its NUL).</summary>
    public const int MaxFormattedLength = 45;

    /// <summary>Writes the address as nginx prints it ($remote_addr): dotted IPv4, or IPv6 without brackets.</summary>
    public bool TryFormat(Span<char> destination, out int written)
    {
        Span<byte> utf8 = stackalloc byte[MaxFormattedLength];
        _ = TryFormat(utf8, out var length);
        if (length > destination.Length)
        {
            written = 0;
            return false;
        }
        for (var i = 0; i < length; i++)
        {
            destination[i] = (char)utf8[i];
        }
        written = length;
        return true;
    }

    /// <summary>
    /// The same text as ASCII (= UTF-8) bytes, without allocating: the access log writes every connection's
    /// addresses, and going through <see cref="IPAddress"/> costs an object (and for IPv6 an array) each time.
    /// The text is IPAddress.ToString()'s: RFC 5952 (lower-case hex, the first longest run of two or more zero
    /// groups as "::"), with the last 32 bits dotted for ::a.b.c.d, ::ffff:0:a.b.c.d and ISATAP (…:5efe:a.b.c.d).
    /// </summary>
    public bool TryFormat(Span<byte> utf8Destination, out int bytesWritten)
    {
        Span<byte> text = stackalloc byte[MaxFormattedLength];
        var length = IsV4 ? FormatV4((uint)Low, text) : FormatV6(text);
        bytesWritten = 0;
        if (length > utf8Destination.Length)
        {
            return false;
        }
        text[..length].CopyTo(utf8Destination);
        bytesWritten = length;
        return true;
    }

    private int FormatV6(Span<byte> text)
    {
        Span<ushort> groups = stackalloc ushort[8];
        for (var i = 0; i < 4; i++)
        {
            groups[i] = (ushort)(High >> (48 - (16 * i)));
            groups[i + 4] = (ushort)(Low >> (48 - (16 * i)));
        }
        // The same cases as System.Net's IPv6AddressHelper.ShouldHaveIpv4Embedded, so the log prints what ToString() does.
        var embedsV4 = (groups[0] == 0 && groups[1] == 0 && groups[2] == 0 && groups[3] == 0 && groups[6] != 0 &&
                        ((groups[4] == 0 && (groups[5] == 0 || groups[5] == 0xFFFF)) || (groups[4] == 0xFFFF && groups[5] == 0))) ||
                       (groups[4] == 0 && groups[5] == 0x5EFE);
        if (!embedsV4)
        {
            return FormatGroups(groups, text);
        }
        var length = FormatGroups(groups[..6], text);
        if (text[length - 1] != ':')
        {
            text[length++] = (byte)':';
        }
        return length + FormatV4((uint)Low, text[length..]);
    }

    private static int FormatGroups(ReadOnlySpan<ushort> groups, Span<byte> text)
    {
        // The first longest run of at least two zero groups becomes "::".
        int runStart = -1, runLength = 1;
        for (var i = 0; i < groups.Length; i++)
        {
            var j = i;
            while (j < groups.Length && groups[j] == 0)
            {
                j++;
            }
            if (j - i > runLength)
            {
                runStart = i;
                runLength = j - i;
            }
            i = j;
        }
        var length = 0;
        for (var i = 0; i < groups.Length; i++)
        {
            if (i == runStart)
            {
                text[length++] = (byte)':';
                text[length++] = (byte)':';
                i += runLength - 1;
                continue;
            }
            if (i > 0 && i != runStart + runLength)
            {
                text[length++] = (byte)':';
            }
            length += FormatHex(groups[i], text[length..]);
        }
        return length;
    }

    private static int FormatHex(ushort value, Span<byte> text)
    {
        var digits = value >= 0x1000 ? 4 : value >= 0x100 ? 3 : value >= 0x10 ? 2 : 1;
        for (var i = digits - 1; i >= 0; i--)
        {
            text[i] = "0123456789abcdef"u8[value & 0xF];
            value >>= 4;
        }
        return digits;
    }

    private static int FormatV4(uint address, Span<byte> text)
    {
        var length = 0;
        for (var shift = 24; shift >= 0; shift -= 8)
        {
            var octet = (byte)(address >> shift);
            if (octet >= 100)
            {
                text[length++] = (byte)('0' + (octet / 100));
            }
            if (octet >= 10)
            {
                text[length++] = (byte)('0' + (octet / 10 % 10));
            }
            text[length++] = (byte)('0' + (octet % 10));
            if (shift > 0)
            {
                text[length++] = (byte)'.';
            }
        }
        return length;
    }

    public override string ToString() => ToIPAddress().ToString();

    public bool Equals(IpAddr other) => High == other.High && Low == other.Low;

    public override bool Equals(object? obj) => obj is IpAddr other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(High, Low);

    public static bool operator ==(IpAddr left, IpAddr right) => left.Equals(right);

    public static bool operator !=(IpAddr left, IpAddr right) => !left.Equals(right);
}
