namespace StreamGate.Routing;

/// <summary>An address with a prefix length (CIDR), or a single address when the length is the full width.</summary>
internal readonly struct IpPrefix
{
    private readonly ulong _maskHigh;
    private readonly ulong _maskLow;
    private readonly ulong _networkHigh;
    private readonly ulong _networkLow;
    private readonly bool _ipv6Only;

    private IpPrefix(IpAddr network, int bits128, string text)
    {
        (_maskHigh, _maskLow) = Mask(bits128);
        _networkHigh = network.High & _maskHigh;
        _networkLow = network.Low & _maskLow;
        // An IPv6 prefix not inside ::ffff:0:0/96 ("::/0", "::/64") names IPv6 clients: APISIX never matches an IPv4
        // client against it, although its range covers the IPv4-mapped form IPv4 addresses are held in here.
        _ipv6Only = !(network.IsV4 && bits128 >= 96);
        Length = Math.Clamp(bits128, 0, 128);
        Text = text;
    }

    /// <summary>The prefix length over the 128-bit form (an IPv4 /24 is 120).</summary>
    public int Length { get; }

    /// <summary>The network address: every address this prefix contains masks to it (see <see cref="MaskTo"/>).</summary>
    public IpAddr Network => new(_networkHigh, _networkLow);

    /// <summary>The address with all but its first <paramref name="length"/> bits cleared.</summary>
    public static IpAddr MaskTo(IpAddr address, int length)
    {
        var (high, low) = Mask(length);
        return new IpAddr(address.High & high, address.Low & low);
    }

    /// <summary>The text it was written as, for messages and the control API.</summary>
    public string Text { get; }

    public bool Contains(IpAddr address) =>
        (address.High & _maskHigh) == _networkHigh && (address.Low & _maskLow) == _networkLow && !(_ipv6Only && address.IsV4);

    /// <summary>Parses "1.2.3.4", "1.2.3.0/24", "::1", "fe80::/10" as APISIX's ip_port router accepts them.</summary>
    public static bool TryParse(string text, out IpPrefix prefix)
    {
        prefix = default;
        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash < 0 ? text : text[..slash];
        if (!IpAddr.TryParse(addressText, out var address))
        {
            return false;
        }
        var width = address.IsV4 && !addressText.Contains(':', StringComparison.Ordinal) ? 32 : 128;
        var bits = width;
        if (slash >= 0)
        {
            var bitsText = text.AsSpan(slash + 1);
            if (bitsText.IsEmpty || bitsText.Length > 3 || !int.TryParse(bitsText, System.Globalization.NumberStyles.None, null, out bits) || bits > width)
            {
                return false;
            }
        }
        prefix = new IpPrefix(address, width == 32 ? bits + 96 : bits, text);
        return true;
    }

    private static (ulong High, ulong Low) Mask(int bits)
    {
        if (bits <= 0)
        {
            return (0, 0);
        }
        if (bits >= 128)
        {
            return (ulong.MaxValue, ulong.MaxValue);
        }
        if (bits <= 64)
        {
            return (bits == 64 ? ulong.MaxValue : ~(ulong.MaxValue >> bits), 0);
        }
        return (ulong.MaxValue, ~(ulong.MaxValue >> (bits - 64)));
    }
}
