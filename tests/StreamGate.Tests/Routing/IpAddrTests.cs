using System.Net;
using StreamGate.Routing;
using static StreamGate.Tests.TestData;

namespace StreamGate.Tests.Routing;

public class IpAddrTests
{
    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("0.0.0.0")]
    [InlineData("255.255.255.255")]
    [InlineData("10.20.30.40")]
    public void IPv4ParsesAndPrintsDotted(string text)
    {
        var address = Ip(text);
        Assert.True(address.IsV4);
        Assert.Equal(text, address.ToString());
        Assert.Equal(IPAddress.Parse(text), address.ToIPAddress());
    }

    [Theory]
    [InlineData("::1")]
    [InlineData("2001:db8::1")]
    [InlineData("fe80::1")]
    [InlineData("::")]
    public void IPv6ParsesAndPrintsWithoutBrackets(string text)
    {
        var address = Ip(text);
        Assert.False(address.IsV4);
        Assert.Equal(text, address.ToString());
    }

    [Fact]
    public void IPv4IsHeldInItsMappedForm()
    {
        var v4 = Ip("192.0.2.1");
        var mapped = Ip("::ffff:192.0.2.1");
        Assert.Equal(v4, mapped);
        Assert.True(v4 == mapped);
        Assert.Equal(v4.GetHashCode(), mapped.GetHashCode());
        Assert.Equal(0UL, v4.High);
        Assert.Equal(0x0000_FFFF_C000_0201UL, v4.Low);
        Assert.Equal(IpAddr.FromV4(0xC000_0201), v4);
    }

    [Fact]
    public void FromIPAddressMatchesParsing()
    {
        Assert.Equal(Ip("10.0.0.1"), IpAddr.From(IPAddress.Parse("10.0.0.1")));
        Assert.Equal(Ip("10.0.0.1"), IpAddr.From(IPAddress.Parse("10.0.0.1").MapToIPv6()));
        Assert.Equal(Ip("2001:db8::5"), IpAddr.From(IPAddress.Parse("2001:db8::5")));
        Assert.NotEqual(Ip("::1"), Ip("127.0.0.1"));
    }

    [Fact]
    public void FromV6ReadsNetworkOrderBytes()
    {
        var bytes = IPAddress.Parse("2001:db8::102:304").GetAddressBytes();
        var address = IpAddr.FromV6(bytes);
        Assert.Equal(0x2001_0db8_0000_0000UL, address.High);
        Assert.Equal(0x0000_0000_0102_0304UL, address.Low);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("1.2.3.256")]
    [InlineData("1.2.3")]
    [InlineData("1.2.3.4.5")]
    [InlineData("1.2.3.4 ")]
    [InlineData("10")]
    [InlineData("127.1")]
    [InlineData("010.0.0.1")]
    [InlineData("0x7f.0.0.1")]
    [InlineData("[::1]")]
    [InlineData("[::1]:80")]
    [InlineData("fe80::1%eth0")]
    [InlineData("1.2.3.4/8")]
    [InlineData("::1/128")]
    [InlineData(":::1")]
    public void MalformedOrShorthandAddressesAreRefused(string text)
    {
        // inet_aton shorthand ("10" = 0.0.0.10, octal "010.0.0.1" = 8.0.0.1) would silently match other hosts.
        Assert.False(IpAddr.TryParse(text, out _));
    }

    [Theory]
    [InlineData("203.0.113.9", "203.0.113.9")]
    [InlineData("2001:db8::1", "2001:db8::1")]
    public void TryFormatWritesNginxForm(string text, string expected)
    {
        Span<char> buffer = stackalloc char[64];
        Assert.True(Ip(text).TryFormat(buffer, out var written));
        Assert.Equal(expected, buffer[..written].ToString());
    }

    [Theory]
    [InlineData("0.0.0.0")]
    [InlineData("255.255.255.255")]
    [InlineData("10.0.100.9")]
    [InlineData("::")]
    [InlineData("::1")]
    [InlineData("1::")]
    [InlineData("1:0:0:2::3")]
    [InlineData("1::2:0:0:3")]
    [InlineData("1:0:2:0:3:0:4:0")]
    [InlineData("2001:db8:0:0:1:0:0:1")]
    [InlineData("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff")]
    [InlineData("::1.2.3.4")]
    [InlineData("::ffff:0:1.2.3.4")]
    [InlineData("::0.0.1.0")]
    [InlineData("::0.1.0.0")]
    [InlineData("fe80::5efe:1.2.3.4")]
    [InlineData("fe80::5efe:0:0")]
    [InlineData("ffff:ffff:ffff:ffff:0:5efe:255.255.255.255")]
    public void Utf8FormatMatchesIPAddress(string text)
    {
        AssertUtf8FormatMatches(IpAddr.From(IPAddress.Parse(text)));
    }

    [Fact]
    public void Utf8FormatMatchesIPAddressForRandomAddresses()
    {
        // Random groups, many of them zero, so compression runs of every length and position come up.
        var random = new Random(6);
        Span<byte> bytes = stackalloc byte[16];
        for (var i = 0; i < 20_000; i++)
        {
            for (var g = 0; g < 8; g++)
            {
                var group = random.Next(3) == 0 ? random.Next(0x10000) : (random.Next(4) == 0 ? 0x5EFE : 0);
                bytes[2 * g] = (byte)(group >> 8);
                bytes[(2 * g) + 1] = (byte)group;
            }
            AssertUtf8FormatMatches(IpAddr.FromV6(bytes));
        }
    }

    [Fact]
    public void Utf8FormatRefusesAShortBuffer()
    {
        Span<byte> buffer = stackalloc byte[8];
        Assert.False(Ip("192.168.100.200").TryFormat(buffer, out var written));
        Assert.Equal(0, written);
        Assert.True(Ip("10.0.0.1").TryFormat(buffer, out written));
        Assert.Equal("10.0.0.1", System.Text.Encoding.ASCII.GetString(buffer[..written]));
    }

    private static void AssertUtf8FormatMatches(IpAddr address)
    {
        Span<byte> buffer = stackalloc byte[IpAddr.MaxFormattedLength];
        Assert.True(address.TryFormat(buffer, out var written));
        Assert.Equal(address.ToIPAddress().ToString(), System.Text.Encoding.ASCII.GetString(buffer[..written]));
    }
}
