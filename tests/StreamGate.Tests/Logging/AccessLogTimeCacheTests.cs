using System.Globalization;
using System.Text;
using StreamGate.Logging;

namespace StreamGate.Tests.Logging;

public class AccessLogTimeCacheTests
{
    private static readonly DateTimeOffset Second = new(2025, 12, 3, 10, 48, 9, TimeSpan.Zero);

    [Fact]
    public void TwoRecordsInTheSameSecondFormatTheTimeOnce()
    {
        var cache = new AccessLogTimeCache();
        cache.Set(Second.ToUnixTimeMilliseconds() + 123);
        var timeLocal = Text(cache.TimeLocal);
        var iso = Text(cache.TimeIso8601);
        Assert.Equal("1764758889.123", Msec(cache));

        cache.Set(Second.ToUnixTimeMilliseconds() + 999);
        Assert.Equal(1, cache.Refreshes);
        Assert.Equal(timeLocal, Text(cache.TimeLocal));
        Assert.Equal(iso, Text(cache.TimeIso8601));
        // The milliseconds of $msec are per record, not per second.
        Assert.Equal("1764758889.999", Msec(cache));
        Assert.Equal(Expected(Second).TimeLocal, timeLocal);
        Assert.Equal(Expected(Second).Iso8601, iso);
    }

    [Fact]
    public void TheNextSecondFormatsAgain()
    {
        var cache = new AccessLogTimeCache();
        cache.Set(Second.ToUnixTimeMilliseconds() + 999);
        cache.Set(Second.ToUnixTimeMilliseconds() + 1000);
        Assert.Equal(2, cache.Refreshes);
        var next = Second.AddSeconds(1);
        Assert.Equal(Expected(next).TimeLocal, Text(cache.TimeLocal));
        Assert.Equal(Expected(next).Iso8601, Text(cache.TimeIso8601));
        Assert.Equal("1764758890.000", Msec(cache));
    }

    [Fact]
    public void AnEarlierSecondFormatsAgainToo()
    {
        // The wall clock can step back (NTP); the cache follows whatever second it is given.
        var cache = new AccessLogTimeCache();
        cache.Set(Second.ToUnixTimeMilliseconds());
        cache.Set(Second.ToUnixTimeMilliseconds() - 1);
        Assert.Equal(2, cache.Refreshes);
        Assert.Equal(Expected(Second.AddSeconds(-1)).TimeLocal, Text(cache.TimeLocal));
        Assert.Equal("1764758888.999", Msec(cache));
    }

    [Theory]
    [InlineData("2024-12-31T23:59:59Z")]
    [InlineData("2025-01-01T00:00:00Z")]
    [InlineData("2024-02-29T12:00:00Z")]
    [InlineData("1970-01-01T00:00:00Z")]
    [InlineData("2038-01-19T03:14:08Z")]
    public void EveryFieldIsZeroPadded(string instant)
    {
        var time = DateTimeOffset.Parse(instant, CultureInfo.InvariantCulture);
        var cache = new AccessLogTimeCache();
        cache.Set(time.ToUnixTimeMilliseconds() + 7);
        Assert.Equal(Expected(time).TimeLocal, Text(cache.TimeLocal));
        Assert.Equal(Expected(time).Iso8601, Text(cache.TimeIso8601));
        Assert.Equal(string.Create(CultureInfo.InvariantCulture, $"{time.ToUnixTimeSeconds()}.007"), Msec(cache));
    }

    private static string Text(ReadOnlySpan<byte> bytes) => Encoding.ASCII.GetString(bytes);

    private static string Msec(AccessLogTimeCache cache)
    {
        Span<byte> buffer = stackalloc byte[32];
        Assert.True(cache.TryWriteMsec(buffer, out var written));
        return Text(buffer[..written]);
    }

    /// <summary>The strings DateTimeOffset's own formatting gives, in the machine's time zone.</summary>
    private static (string TimeLocal, string Iso8601) Expected(DateTimeOffset time)
    {
        var local = time.ToLocalTime();
        var inv = CultureInfo.InvariantCulture;
        return (local.ToString("dd/MMM/yyyy:HH:mm:ss zzz", inv).Remove(24, 1), local.ToString("yyyy-MM-ddTHH:mm:sszzz", inv));
    }
}
