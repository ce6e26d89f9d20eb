using System.Buffers.Text;

namespace StreamGate.Logging;

/// <summary>
/// $time_local, $time_iso8601 and the seconds of $msec as UTF-8, for one second at a time: a loop that ends
/// thousands of connections a second formats the time once per second instead of once per line, as nginx's
/// ngx_time_update caches its time strings. Not thread-safe: each event loop has its own (in its
/// <see cref="AccessLogBuffer"/>).
/// </summary>
internal sealed class AccessLogTimeCache
{
    private readonly byte[] _timeLocal = new byte["03/Dec/2026:10:48:09 +0000".Length];
    private readonly byte[] _timeIso8601 = new byte["2026-12-03T10:48:09+00:00".Length];
    private readonly byte[] _seconds = new byte[20];
    private int _secondsLength;
    private long _second = long.MinValue;
    private int _milliseconds;

    /// <summary>How many times the strings were formatted: once per distinct second seen.</summary>
    public int Refreshes { get; private set; }

    /// <summary>"03/Dec/2026:10:48:09 +0000", local time.</summary>
    public ReadOnlySpan<byte> TimeLocal => _timeLocal;

    /// <summary>"2026-12-03T10:48:09+00:00", local time.</summary>
    public ReadOnlySpan<byte> TimeIso8601 => _timeIso8601;

    private static ReadOnlySpan<byte> Months => "JanFebMarAprMayJunJulAugSepOctNovDec"u8;

    /// <summary>Moves the cache to this instant; the strings are formatted again only when its second differs.</summary>
    public void Set(long unixMs)
    {
        var second = Math.DivRem(unixMs, 1000, out var milliseconds);
        if (milliseconds < 0)
        {
            second--;
            milliseconds += 1000;
        }
        _milliseconds = (int)milliseconds;
        if (second != _second)
        {
            Refresh(second);
        }
    }

    /// <summary>$msec: "1764758889.123", seconds and milliseconds since the Unix epoch.</summary>
    public bool TryWriteMsec(Span<byte> destination, out int written)
    {
        written = 0;
        if (destination.Length < _secondsLength + 4)
        {
            return false;
        }
        _seconds.AsSpan(0, _secondsLength).CopyTo(destination);
        destination[_secondsLength] = (byte)'.';
        Digits(destination[(_secondsLength + 1)..], _milliseconds, 3);
        written = _secondsLength + 4;
        return true;
    }

    private void Refresh(long second)
    {
        _second = second;
        Refreshes++;
        var utc = new DateTime(DateTime.UnixEpoch.Ticks + (second * TimeSpan.TicksPerSecond), DateTimeKind.Utc);
        // Asked once per second, so a daylight-saving change shows in the next second's lines.
        var offset = TimeZoneInfo.Local.GetUtcOffset(utc);
        var local = utc + offset;
        var sign = offset < TimeSpan.Zero ? (byte)'-' : (byte)'+';
        var offsetHours = Math.Abs(offset.Hours);
        var offsetMinutes = Math.Abs(offset.Minutes);

        var t = _timeLocal.AsSpan();
        Digits(t, local.Day, 2);
        t[2] = (byte)'/';
        Months.Slice((local.Month - 1) * 3, 3).CopyTo(t[3..]);
        t[6] = (byte)'/';
        Digits(t[7..], local.Year, 4);
        t[11] = (byte)':';
        Clock(t[12..], local);
        t[20] = (byte)' ';
        t[21] = sign;
        Digits(t[22..], offsetHours, 2);
        Digits(t[24..], offsetMinutes, 2);

        var iso = _timeIso8601.AsSpan();
        Digits(iso, local.Year, 4);
        iso[4] = (byte)'-';
        Digits(iso[5..], local.Month, 2);
        iso[7] = (byte)'-';
        Digits(iso[8..], local.Day, 2);
        iso[10] = (byte)'T';
        Clock(iso[11..], local);
        iso[19] = sign;
        Digits(iso[20..], offsetHours, 2);
        iso[22] = (byte)':';
        Digits(iso[23..], offsetMinutes, 2);

        _ = Utf8Formatter.TryFormat(second, _seconds, out _secondsLength);
    }

    /// <summary>"HH:mm:ss".</summary>
    private static void Clock(Span<byte> destination, DateTime time)
    {
        Digits(destination, time.Hour, 2);
        destination[2] = (byte)':';
        Digits(destination[3..], time.Minute, 2);
        destination[5] = (byte)':';
        Digits(destination[6..], time.Second, 2);
    }

    /// <summary>A non-negative number as exactly <paramref name="count"/> decimal digits, zero-padded.</summary>
    private static void Digits(Span<byte> destination, int value, int count)
    {
        for (var i = count - 1; i >= 0; i--)
        {
            destination[i] = (byte)('0' + (value % 10));
            value /= 10;
        }
    }
}
