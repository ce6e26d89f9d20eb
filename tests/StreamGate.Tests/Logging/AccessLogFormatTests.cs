using System.Globalization;
using StreamGate.Config;
using StreamGate.Logging;
using static StreamGate.Tests.TestData;

namespace StreamGate.Tests.Logging;

public class AccessLogFormatTests
{
    private static readonly DateTimeOffset End = new(2024, 3, 9, 14, 5, 7, 250, TimeSpan.Zero);

    internal static AccessLogRecord Record() => new()
    {
        RemoteAddress = Ip("192.0.2.10"),
        RemotePort = 51234,
        ServerAddress = Ip("127.0.0.1"),
        ServerPort = 9100,
        Status = 200,
        BytesSent = 1024,
        BytesReceived = 77,
        UpstreamBytesSent = 77,
        UpstreamBytesReceived = 1024,
        SessionSeconds = 1.23456,
        UpstreamConnectSeconds = 0.0021,
        UpstreamAddress = "127.0.0.1:5432",
        RouteId = "r1",
        ConnectionNumber = 42,
        EndUnixMs = End.ToUnixTimeMilliseconds(),
    };

    private static string Format(string format, AccessLogRecord record) => new AccessLogFormat(format).Format(record);

    private static string Format(string format) => Format(format, Record());

    [Fact]
    public void ApisixDefaultFormat()
    {
        var line = Format(AccessLogOptions.DefaultFormat);
        Assert.Equal($"192.0.2.10 [{TimeLocal(End)}] TCP 200 1024 77 1.235", line);
    }

    [Theory]
    [InlineData("$remote_addr", "192.0.2.10")]
    [InlineData("$remote_port", "51234")]
    [InlineData("$server_addr", "127.0.0.1")]
    [InlineData("$server_port", "9100")]
    [InlineData("$status", "200")]
    [InlineData("$bytes_sent", "1024")]
    [InlineData("$bytes_received", "77")]
    [InlineData("$session_time", "1.235")]
    [InlineData("$upstream_addr", "127.0.0.1:5432")]
    [InlineData("$upstream_bytes_sent", "77")]
    [InlineData("$upstream_bytes_received", "1024")]
    [InlineData("$upstream_connect_time", "0.002")]
    [InlineData("$msec", "1709993107.250")]
    [InlineData("$protocol", "TCP")]
    [InlineData("$connection", "42")]
    [InlineData("$route_id", "r1")]
    public void EachVariable(string format, string expected)
    {
        Assert.Equal(expected, Format(format));
    }

    [Fact]
    public void EveryKnownVariableFormats()
    {
        var format = string.Join("|", AccessLogFormat.KnownVariables.Select(v => "$" + v));
        var fields = Format(format).Split('|');
        Assert.Equal(AccessLogFormat.KnownVariables.Length, fields.Length);
        Assert.All(fields, f => Assert.False(string.IsNullOrEmpty(f) || f.Contains('$', StringComparison.Ordinal), f));
    }

    [Fact]
    public void TimeLocalIsNginxCommonLogTime()
    {
        Assert.Equal(TimeLocal(End), Format("$time_local"));
        Assert.Matches(@"^\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}$", Format("$time_local"));
    }

    [Fact]
    public void TimeIso8601()
    {
        var local = End.ToLocalTime();
        var offset = local.Offset;
        var sign = offset < TimeSpan.Zero ? "-" : "+";
        var expected = string.Create(CultureInfo.InvariantCulture, $"{local.Year:D4}-{local.Month:D2}-{local.Day:D2}T{local.Hour:D2}:{local.Minute:D2}:{local.Second:D2}{sign}{Math.Abs(offset.Hours):D2}:{Math.Abs(offset.Minutes):D2}");
        Assert.Equal(expected, Format("$time_iso8601"));
    }

    [Fact]
    public void IPv6AddressesAreUnbracketed()
    {
        var record = Record();
        record.RemoteAddress = Ip("2001:db8::7");
        record.ServerAddress = Ip("::1");
        Assert.Equal("2001:db8::7 ::1", Format("$remote_addr $server_addr", record));
    }

    [Fact]
    public void MissingUpstreamAndRouteAreDashes()
    {
        var record = Record();
        record.UpstreamAddress = null;
        record.RouteId = null;
        Assert.Equal("- - -", Format("$upstream_addr $upstream_connect_time $route_id", record));
    }

    [Theory]
    [InlineData("${remote_addr}x", "192.0.2.10x")]
    [InlineData("[${status}]", "[200]")]
    [InlineData("${remote_addr}:${remote_port}", "192.0.2.10:51234")]
    [InlineData("$remote_addr:$remote_port", "192.0.2.10:51234")]
    [InlineData("$status-$protocol", "200-TCP")]
    public void BracedAndDelimitedVariables(string format, string expected)
    {
        Assert.Equal(expected, Format(format));
    }

    [Theory]
    [InlineData("cost $", "cost $")]
    [InlineData("$ $status", "$ 200")]
    [InlineData("$$status", "$200")]
    [InlineData("${status", "${status")]
    [InlineData("${}", "${}")]
    [InlineData("100%", "100%")]
    [InlineData("", "")]
    public void DollarsWithoutANameAreLiteral(string format, string expected)
    {
        Assert.Equal(expected, Format(format));
    }

    [Fact]
    public void VariableNamesAreCaseInsensitiveAsInNginx()
    {
        Assert.Empty(AccessLogFormat.UnknownVariables("$REMOTE_ADDR ${Status}"));
        Assert.Equal(Format("$remote_addr $status"), Format("$REMOTE_ADDR ${Status}"));
    }

    [Theory]
    [InlineData("$foo", "foo")]
    [InlineData("${bar}", "bar")]
    [InlineData("$remote_addrx", "remote_addrx")]
    [InlineData("$request_time $status", "request_time")]
    public void UnknownVariableIsRefused(string format, string name)
    {
        var exception = Assert.Throws<ArgumentException>(() => new AccessLogFormat(format));
        Assert.Contains($"unknown variable ${name}", exception.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnknownVariablesListsEachUnknownName()
    {
        Assert.Equal(["foo", "bar", "remote_addrx"], AccessLogFormat.UnknownVariables("$remote_addr $foo ${bar} $remote_addrx ${status} $"));
        Assert.Empty(AccessLogFormat.UnknownVariables(AccessLogOptions.DefaultFormat));
    }

    [Fact]
    public void FormatIsReusable()
    {
        var format = new AccessLogFormat("$connection");
        var record = Record();
        Assert.Equal("42", format.Format(record));
        record.ConnectionNumber = 43;
        Assert.Equal("43", format.Format(record));
    }

    [Fact]
    public void TryFormatWritesUtf8AndRefusesADestinationTooShort()
    {
        var format = new AccessLogFormat("$route_id $remote_addr $msec");
        var record = Record();
        record.RouteId = "café";
        var expected = System.Text.Encoding.UTF8.GetBytes("café 192.0.2.10 1709993107.250");
        var time = new AccessLogTimeCache();
        var buffer = new byte[expected.Length];
        Assert.True(format.TryFormat(buffer, record, time, out var written));
        Assert.Equal(expected, buffer[..written]);
        for (var length = 0; length < expected.Length; length++)
        {
            Assert.False(format.TryFormat(buffer.AsSpan(0, length), record, time, out written));
            Assert.Equal(0, written);
        }
    }

    private static string TimeLocal(DateTimeOffset time)
    {
        var local = time.ToLocalTime();
        var offset = local.Offset;
        var sign = offset < TimeSpan.Zero ? "-" : "+";
        var month = CultureInfo.InvariantCulture.DateTimeFormat.GetAbbreviatedMonthName(local.Month);
        return string.Create(CultureInfo.InvariantCulture, $"{local.Day:D2}/{month}/{local.Year:D4}:{local.Hour:D2}:{local.Minute:D2}:{local.Second:D2} {sign}{Math.Abs(offset.Hours):D2}{Math.Abs(offset.Minutes):D2}");
    }
}
