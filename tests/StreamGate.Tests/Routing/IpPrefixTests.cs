using StreamGate.Routing;
using static StreamGate.Tests.TestData;

namespace StreamGate.Tests.Routing;

public class IpPrefixTests
{
    [Theory]
    [InlineData("10.0.0.0/8", "10.0.0.0", true)]
    [InlineData("10.0.0.0/8", "10.255.255.255", true)]
    [InlineData("10.0.0.0/8", "11.0.0.0", false)]
    [InlineData("10.0.0.0/8", "9.255.255.255", false)]
    [InlineData("192.168.1.0/24", "192.168.1.77", true)]
    [InlineData("192.168.1.0/24", "192.168.2.1", false)]
    [InlineData("192.168.1.99/24", "192.168.1.1", true)]
    [InlineData("172.16.0.0/12", "172.31.255.1", true)]
    [InlineData("172.16.0.0/12", "172.32.0.1", false)]
    [InlineData("127.0.0.1", "127.0.0.1", true)]
    [InlineData("127.0.0.1", "127.0.0.2", false)]
    [InlineData("127.0.0.1/32", "127.0.0.1", true)]
    [InlineData("0.0.0.0/0", "8.8.8.8", true)]
    [InlineData("1.2.3.4/31", "1.2.3.5", true)]
    [InlineData("1.2.3.4/31", "1.2.3.6", false)]
    public void IPv4Cidr(string prefix, string address, bool contains)
    {
        Assert.Equal(contains, Prefix(prefix).Contains(Ip(address)));
    }

    [Theory]
    [InlineData("::1", "::1", true)]
    [InlineData("::1", "::2", false)]
    [InlineData("::1/128", "::1", true)]
    [InlineData("fe80::/10", "fe80::1", true)]
    [InlineData("fe80::/10", "febf:ffff::1", true)]
    [InlineData("fe80::/10", "fec0::1", false)]
    [InlineData("2001:db8::/32", "2001:db8:ffff::1", true)]
    [InlineData("2001:db8::/32", "2001:db9::1", false)]
    [InlineData("2001:db8::/64", "2001:db8::ffff:ffff:ffff:ffff", true)]
    [InlineData("2001:db8::/64", "2001:db8:0:1::", false)]
    [InlineData("2001:db8::/63", "2001:db8:0:1::", true)]
    [InlineData("2001:db8::/65", "2001:db8::7fff:ffff:ffff:ffff", true)]
    [InlineData("2001:db8::/65", "2001:db8::8000:0:0:0", false)]
    [InlineData("::/0", "2001:db8::1", true)]
    [InlineData("2001:db8::/127", "2001:db8::1", true)]
    [InlineData("2001:db8::/127", "2001:db8::2", false)]
    public void IPv6Cidr(string prefix, string address, bool contains)
    {
        Assert.Equal(contains, Prefix(prefix).Contains(Ip(address)));
    }

    [Theory]
    [InlineData("0.0.0.0/0", "::1")]
    [InlineData("0.0.0.0/0", "2001:db8::1")]
    [InlineData("10.0.0.0/8", "::a00:1")]
    public void IPv4RulesNeverMatchIPv6Clients(string prefix, string address)
    {
        Assert.False(Prefix(prefix).Contains(Ip(address)));
    }

    [Theory]
    [InlineData("10.0.0.0/8", "::ffff:10.1.2.3", true)]
    [InlineData("::ffff:10.0.0.0/104", "10.1.2.3", true)]
    [InlineData("::ffff:10.0.0.0/104", "11.1.2.3", false)]
    [InlineData("::ffff:0:0/96", "192.0.2.1", true)]
    [InlineData("::ffff:0:0/96", "2001:db8::1", false)]
    public void IPv4MappedRulesAndClientsCompareAsIPv4(string prefix, string address, bool contains)
    {
        // A dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d; both spellings are the same address.
        Assert.Equal(contains, Prefix(prefix).Contains(Ip(address)));
    }

    [Theory]
    [InlineData("::/0")]
    [InlineData("::/64")]
    [InlineData("::/80")]
    [InlineData("::/95")]
    public void IPv6RulesNeverMatchIPv4Clients(string prefix)
    {
        // As in APISIX's ipmatcher: "::/0" means every IPv6 client, not every client.
        Assert.False(Prefix(prefix).Contains(Ip("10.0.0.1")));
        Assert.False(Prefix(prefix).Contains(Ip("::ffff:10.0.0.1")));
        Assert.True(Prefix(prefix).Contains(Ip("::1")));
    }

    [Theory]
    [InlineData("")]
    [InlineData("/8")]
    [InlineData(":/8")]
    [InlineData("10.0.0.0/")]
    [InlineData("10.0.0.0/33")]
    [InlineData("10.0.0.0/-1")]
    [InlineData("10.0.0.0/+8")]
    [InlineData("10.0.0.0/ 8")]
    [InlineData("10.0.0.0/1000")]
    [InlineData("10.0.0.0/8/8")]
    [InlineData("::/129")]
    [InlineData("10/8")]
    [InlineData("10.0.0.0/x")]
    public void InvalidPrefixesAreRefused(string text)
    {
        Assert.False(IpPrefix.TryParse(text, out _));
    }

    [Theory]
    [InlineData("10.0.0.0/8")]
    [InlineData("::1")]
    [InlineData("fe80::/10")]
    public void TextIsKeptAsWritten(string text)
    {
        Assert.Equal(text, Prefix(text).Text);
    }
}
