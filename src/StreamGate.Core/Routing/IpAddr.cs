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

    /// <summary>Writes the address as nginx prints it ($remote_addr): dotted IPv4, or IPv6 without brackets.</summary>
    public bool TryFormat(Span<char> destination, out int written) => ToIPAddress().TryFormat(destination, out written);

    public override string ToString() => ToIPAddress().ToString();

    public bool Equals(IpAddr other) => High == other.High && Low == other.Low;

    public override bool Equals(object? obj) => obj is IpAddr other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(High, Low);

    public static bool operator ==(IpAddr left, IpAddr right) => left.Equals(right);

    public static bool operator !=(IpAddr left, IpAddr right) => !left.Equals(right);
}
